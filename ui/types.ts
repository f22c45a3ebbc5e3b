// The API's shapes (src/ui/api.ts, shared with the server) and the client's own view type.
import type { ServerEvent } from "../src/ui/api.js";

export type { Page, PageLine, RunInfo, ServerEvent, Stage } from "../src/ui/api.js";
export type View = (root: HTMLElement, params: URLSearchParams) => Promise<((e: ServerEvent) => void) | undefined>;
