// Progress bars for long work, on stderr, through cli-progress. Quiet when stderr is not a terminal (pipes, CI),
// so logs stay clean; the work reports the same either way.
import { SingleBar } from "cli-progress";

export interface Progress {
  /** Advance by n units and update the named values shown after the bar. */
  tick(n: number, values?: Record<string, string | number>): void;
  stop(): void;
}

export function progress(label: string, total: number, unit: string): Progress {
  if (!process.stderr.isTTY) return { tick() {}, stop() {} };
  const bar = new SingleBar({
    format: `${label} [{bar}] {value}/{total} ${unit} · {eta_formatted} left{extra}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: false,
  });
  bar.start(total, 0, { extra: "" });
  return {
    tick(n, values) {
      const extra = values
        ? " · " +
          Object.entries(values)
            .map(([k, v]) => `${k} ${v}`)
            .join(" · ")
        : "";
      bar.increment(n, { extra });
    },
    stop: () => bar.stop(),
  };
}
