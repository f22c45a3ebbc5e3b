// `sso config --print [--config FILE]`: the effective configuration (defaults merged with the file), as YAML or JSON.
import { stringify } from "yaml";
import { loadConfig } from "../config.js";

export function runConfig(opts: { config?: string; json: boolean }): void {
  const config = loadConfig(opts.config);
  process.stdout.write(opts.json ? JSON.stringify(config, null, 2) + "\n" : stringify(config));
}
