// The tokenizer of a Hugging Face model folder: tokenizer.json through @huggingface/tokenizers, the special tokens
// and chat template of tokenizer_config.json (rendered with @huggingface/jinja), the eos ids of generation_config.json,
// and the chat encoding that scoring and training use (prompt ids, then response ids ending in the end-of-turn).
// It deliberately is not a batching/padding/truncation layer, does not add tools or documents to templates, and never
// downloads anything: the folder must already hold the files.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { firstLine, readJson as readJsonFile, readText } from "../util/files.js";

export interface ChatMessage {
  role: string;
  content: string;
}

/** The parsed files of a model folder; only tokenizerJson is required. `source` names the folder in errors. */
export interface TokenizerFiles {
  tokenizerJson: unknown;
  tokenizerConfig?: unknown;
  generationConfig?: unknown;
  /** A template from a separate chat_template.jinja, used when tokenizer_config.json has none. */
  chatTemplateFile?: string;
  source?: string;
}

type Json = Record<string, unknown>;

/** Marks the assistant content when endOfTurn renders a probe conversation; unlikely in any template. */
const SENTINEL = "SSO_END_OF_TURN_SENTINEL_7c1f";

function readJson(path: string, required: boolean): unknown {
  if (!existsSync(path)) {
    if (required) throw new Error(`${path}: file not found`);
    return undefined;
  }
  return readJsonFile(path);
}

function asObject(value: unknown, file: string): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new Error(`${file}: expected a JSON object`);
  return value as Json;
}

/** A special token from tokenizer_config.json: a string, null/absent, or an AddedToken object `{content: ...}`. */
function tokenField(config: Json, key: string, file: string): string | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "object" && typeof (v as Json).content === "string") return (v as Json).content as string;
  throw new Error(`${file}: "${key}" must be a string, null or {"content": string}`);
}

/** chat_template is a string or a list of {name, template}, of which "default" is taken. */
function chatTemplateField(config: Json, file: string): string | undefined {
  const v = config.chat_template;
  if (v === undefined || v === null || typeof v === "string") return v ?? undefined;
  if (Array.isArray(v)) {
    const named = v.find((t) => t && typeof t === "object" && (t as Json).name === "default");
    if (named && typeof (named as Json).template === "string") return (named as Json).template as string;
    throw new Error(`${file}: "chat_template" is a list without a {"name": "default", "template": string} entry`);
  }
  throw new Error(`${file}: "chat_template" must be a string or a list of {name, template}`);
}

function idList(v: unknown, key: string, file: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => Number.isInteger(x) && x >= 0))
    throw new Error(`${file}: "${key}" must be a token id or a list of token ids`);
  return list as number[];
}

/**
 * The library tokenizer. It requires the null-valued keys Hugging Face always writes, reads bare token strings from
 * the config, and defaults clean_up_tokenization_spaces to true where transformers now defaults to false.
 */
function buildHf(tj: Json, file: string, config: Json): HfTokenizer {
  const defaults = { added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null };
  try {
    return new HfTokenizer(
      { ...defaults, ...tj },
      { ...config, clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? false },
    );
  } catch (e) {
    throw new Error(`${file}: cannot build the tokenizer (${firstLine(e)})`);
  }
}

function maxId(vocab: Map<string, number>): number {
  let max = -1;
  for (const id of vocab.values()) if (id > max) max = id;
  return max;
}

export class Tokenizer {
  /** The model folder the files came from ("<memory>" for fromFiles without a source); names files in errors. */
  readonly source: string;
  /** One more than the largest id, added tokens included (equals their count when ids are contiguous). */
  readonly vocabSize: number;
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly padToken?: string;
  readonly bosId?: number;
  readonly padId?: number;
  /** tokenizer_config's eos token first, then generation_config's eos_token_id(s), without repeats. */
  readonly eosIds: number[];
  /** add_bos_token as declared (default false); encode({addSpecialTokens}) follows tokenizer.json's post-processor. */
  readonly addBosToken: boolean;
  readonly chatTemplate?: string;
  private readonly hf: HfTokenizer;
  private readonly specialIds: Set<number>;
  private readonly configFile: string;
  private readonly templateSource: string; // names the template's file (and key) in errors
  private compiled?: Template;
  private eot?: { text: string; ids: number[] };

  private constructor(f: TokenizerFiles) {
    const dir = f.source ?? "<memory>";
    this.source = dir;
    const [tokFile, cfgFile, genFile] = ["tokenizer.json", "tokenizer_config.json", "generation_config.json"].map((n) =>
      join(dir, n),
    );
    const cfg = f.tokenizerConfig === undefined ? {} : asObject(f.tokenizerConfig, cfgFile);
    const gen = f.generationConfig === undefined ? {} : asObject(f.generationConfig, genFile);
    this.bosToken = tokenField(cfg, "bos_token", cfgFile);
    this.eosToken = tokenField(cfg, "eos_token", cfgFile);
    this.padToken = tokenField(cfg, "pad_token", cfgFile);
    this.hf = buildHf(asObject(f.tokenizerJson, tokFile), tokFile, {
      ...cfg,
      bos_token: this.bosToken ?? null,
      eos_token: this.eosToken ?? null,
      pad_token: this.padToken ?? null,
      unk_token: tokenField(cfg, "unk_token", cfgFile) ?? null,
    });
    const added = [...this.hf.get_added_tokens_decoder().values()];
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
    this.vocabSize = maxId(this.hf.get_vocab(true)) + 1;

    const idOf = (token: string | undefined, key: string) => {
      if (token === undefined) return undefined;
      const id = this.tokenToId(token);
      if (id === undefined)
        throw new Error(`${cfgFile}: "${key}" ${JSON.stringify(token)} is not in the vocabulary of tokenizer.json`);
      return id;
    };
    // bos: tokenizer_config decides when it has the key (Qwen declares null while its generation_config says
    // 151643 = <|endoftext|>, which nothing prepends); generation_config's bos_token_id is only a fallback.
    this.bosId =
      "bos_token" in cfg ? idOf(this.bosToken, "bos_token") : idList(gen.bos_token_id, "bos_token_id", genFile)[0];
    this.padId = idOf(this.padToken, "pad_token");
    const eos = idOf(this.eosToken, "eos_token");
    this.eosIds = [
      ...new Set([...(eos === undefined ? [] : [eos]), ...idList(gen.eos_token_id, "eos_token_id", genFile)]),
    ];
    this.addBosToken = cfg.add_bos_token === true;
    this.configFile = cfgFile;
    const own = chatTemplateField(cfg, cfgFile);
    this.chatTemplate = own ?? f.chatTemplateFile;
    this.templateSource =
      own === undefined && f.chatTemplateFile !== undefined
        ? join(dir, "chat_template.jinja")
        : `${cfgFile} (chat_template)`;
  }

  /** Loads a folder: tokenizer.json (required), tokenizer_config.json, generation_config.json, chat_template.jinja. */
  static fromDir(dir: string): Tokenizer {
    const jinjaPath = join(dir, "chat_template.jinja");
    const chatTemplateFile = existsSync(jinjaPath) ? readText(jinjaPath) : undefined;
    return new Tokenizer({
      tokenizerJson: readJson(join(dir, "tokenizer.json"), true),
      tokenizerConfig: readJson(join(dir, "tokenizer_config.json"), false),
      generationConfig: readJson(join(dir, "generation_config.json"), false),
      chatTemplateFile,
      source: dir,
    });
  }

  /** Builds a tokenizer from already-parsed files (e.g. `makeByteLevelTokenizer`'s output). */
  static fromFiles(files: TokenizerFiles): Tokenizer {
    return new Tokenizer(files);
  }

  /** Token ids of text. No BOS/EOS unless addSpecialTokens (chat templates write them as text). */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ""; // the library throws on an empty list
    return this.hf.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** Whether id is an added token marked special (`<|im_end|>`, `<|eot_id|>`, …). */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== undefined;
  }

  /**
   * Renders the chat template with messages, add_generation_prompt and the special token strings; `vars` adds
   * template variables (e.g. `{enable_thinking: false}` for Qwen3, `{date_string: "…"}` for Llama 3.x). The jinja
   * library itself provides raise_exception and strftime_now (today's date, as transformers does).
   */
  applyChatTemplate(
    messages: ChatMessage[],
    opts: { addGenerationPrompt: boolean; vars?: Record<string, unknown> },
  ): string {
    if (this.chatTemplate === undefined) {
      throw new Error(`${this.configFile}: no "chat_template" (and no chat_template.jinja beside it)`);
    }
    try {
      this.compiled ??= new Template(this.chatTemplate);
      return this.compiled.render({
        ...opts.vars,
        messages,
        add_generation_prompt: opts.addGenerationPrompt,
        bos_token: this.bosToken,
        eos_token: this.eosToken,
        pad_token: this.padToken,
      });
    } catch (e) {
      throw new Error(`${this.templateSource}: ${firstLine(e)}`);
    }
  }

  /**
   * What the template writes right after an assistant message's content. Rule: render [user "x", assistant SENTINEL]
   * without generation prompt, take the text after SENTINEL minus trailing whitespace, encode it, and keep the
   * leading run of special tokens (`<|im_end|>` of ChatML's `<|im_end|>\n`, `<|eot_id|>` of Llama 3). When no
   * special token follows directly (nothing, or text first), it is the first of eosIds.
   */
  /** Token ids that end a generated turn: the eos ids, plus the end-of-turn token when it is a single token. */
  get stopIds(): number[] {
    const eot = this.endOfTurn.ids;
    return [...new Set([...this.eosIds, ...(eot.length === 1 ? eot : [])])];
  }

  get endOfTurn(): { text: string; ids: number[] } {
    if (this.eot) return this.eot;
    const probe = [
      { role: "user", content: "x" },
      { role: "assistant", content: SENTINEL },
    ];
    const rendered = this.applyChatTemplate(probe, { addGenerationPrompt: false });
    const at = rendered.lastIndexOf(SENTINEL);
    if (at < 0) throw new Error(`${this.templateSource}: the template drops the assistant message's content`);
    const tail = this.encode(rendered.slice(at + SENTINEL.length).trimEnd());
    let n = 0;
    while (n < tail.length && this.isSpecial(tail[n])) n++;
    let ids = tail.slice(0, n);
    if (ids.length === 0) {
      if (this.eosIds.length === 0)
        throw new Error(
          `${this.templateSource}: nothing marks the end of an assistant turn and no eos token is declared`,
        );
      ids = [this.eosIds[0]];
    }
    return (this.eot = { text: ids.map((id) => this.idToToken(id)).join(""), ids });
  }

  /**
   * The ids that scoring and training use: promptIds encode the template with the generation prompt; responseIds
   * encode response followed by endOfTurn.ids (empty when there is no response). Encoding the two parts separately
   * matches encoding the whole conversation unless the template rewrites the assistant turn (Qwen3 adds an empty
   * think block — with `vars: {enable_thinking: false}` its prompt ends in that block and the parts line up again) or
   * the response starts with whitespace that would merge with the prompt's last token. `vars` go to the template.
   */
  encodeChat(
    messages: ChatMessage[],
    response?: string,
    opts: { vars?: Record<string, unknown> } = {},
  ): { promptIds: number[]; responseIds: number[] } {
    const responseIds = response === undefined ? [] : [...this.encode(response), ...this.endOfTurn.ids];
    return { promptIds: this.encodePrompt(messages, opts), responseIds };
  }

  /** The ids of a generation request: the conversation rendered with the generation prompt. */
  encodePrompt(messages: ChatMessage[], opts: { vars?: Record<string, unknown> } = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, { addGenerationPrompt: true, vars: opts.vars }));
  }
}

/**
 * The largest token id of a parsed tokenizer.json: over model.vocab (an object token → id, or Unigram's list of
 * [piece, score] whose index is the id) and added_tokens (special ones included); -1 when it has none.
 */
export function maxTokenId(tokenizerJson: unknown): number {
  const tj = (tokenizerJson ?? {}) as Json;
  const vocab = (tj.model as Json | undefined)?.vocab;
  let max = Array.isArray(vocab) ? vocab.length - 1 : -1;
  if (vocab && typeof vocab === "object" && !Array.isArray(vocab))
    for (const id of Object.values(vocab)) if (typeof id === "number" && id > max) max = id;
  if (Array.isArray(tj.added_tokens))
    for (const t of tj.added_tokens)
      if (typeof (t as Json)?.id === "number" && ((t as Json).id as number) > max) max = (t as Json).id as number;
  return max;
}

/**
 * Refuses a tokenizer that can produce ids the model has no embedding row for: the largest id of tokenizer.json,
 * added and special tokens included, must be below the model's vocab_size (config.json). A model may have more rows
 * than the tokenizer has tokens (padding), never fewer. Give a loaded Tokenizer, or a model folder to read its
 * tokenizer.json without building a tokenizer. Call at load time, before any output is opened.
 */
export function checkTokenizerFitsModel(tok: Tokenizer | string, vocabSize: number): void {
  const dir = typeof tok === "string" ? tok : tok.source;
  const file = join(dir, "tokenizer.json");
  const maxId = typeof tok === "string" ? maxTokenId(readJson(file, true)) : tok.vocabSize - 1;
  if (maxId < vocabSize) return;
  const token = typeof tok === "string" ? undefined : tok.idToToken(maxId);
  throw new Error(
    `${file}: token id ${maxId}${token === undefined ? "" : ` (${JSON.stringify(token)})`} does not fit the model: ${join(dir, "config.json")} has vocab_size ${vocabSize}, so ids must be < ${vocabSize}`,
  );
}
