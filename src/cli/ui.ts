// `sso ui [--runs DIR] [--port 8080] [--host 127.0.0.1] [--token T]`: the live dashboard over the runs under DIR
// (src/ui/). Loopback by default; another address needs a token, preferably from $SSO_UI_TOKEN (a flag's value
// shows in ps). Prints one line with the address (with ?token= when there is one), then serves until SIGINT or
// SIGTERM, and exits 0.
import { startUi } from "../ui/server.js";

export interface UiCliOptions {
  runs: string;
  host: string;
  port: number;
  token?: string;
}

export async function runUi(opts: UiCliOptions): Promise<void> {
  const token = opts.token ?? process.env.SSO_UI_TOKEN;
  const ui = await startUi({ runs: opts.runs, host: opts.host, port: opts.port, token });
  console.log(`sso ui: ${opts.runs} on ${ui.url}/${token ? "?token=<your token>" : ""}`);
  const stop = () => {
    setTimeout(() => process.exit(0), 2_000).unref();
    ui.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
