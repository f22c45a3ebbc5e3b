// `sso config [--config FILE] [--json]`: the effective configuration (defaults merged with the file, paths in it
// resolved as the commands resolve them), as YAML or JSON.
import { stringify } from "yaml";
import { resolveConfig } from "../config.js";

export function runConfig(opts: { config?: string; json: boolean }): void {
  const config = resolveConfig(opts.config);
  process.stdout.write(opts.json ? `${JSON.stringify(config, null, 2)}\n` : stringify(config));
}
