// Prompts from JSONL, JSON arrays and Parquet (several row groups, a `messages` column of lists of structs, written
// here with hyparquet-writer): the same records from each; the common dataset shapes; malformed files as one line.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parquetWriteFile } from "hyparquet-writer";
import { preparePrompts, promptOf, readPromptRecords } from "../../src/data/prompts.js";
import { readRows } from "../../src/data/rows.js";
import { readPrompts } from "../../src/sso/input.js";
import { tempDir } from "../helpers.js";

const rows = Array.from({ length: 11 }, (_, i) => ({
  id: `p${i}`,
  messages:
    i % 3 === 0
      ? [
          { role: "user", content: `Hi ${i}` },
          { role: "assistant", content: "Hello." },
          { role: "user", content: `Tell me about ${i}, “ünïcode” ok?` },
        ]
      : [
          { role: "user", content: `Question ${i}` },
          { role: "assistant", content: "a trailing answer is dropped" },
        ],
}));

function writeMessagesParquet(path: string): void {
  const str = (name: string) => ({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" });
  parquetWriteFile({
    filename: path,
    columnData: [
      { name: "id", data: rows.map((r) => r.id) },
      { name: "messages", data: rows.map((r) => r.messages) },
    ],
    schema: [
      { name: "root", num_children: 2 },
      str("id"),
      { name: "messages", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
      str("role"),
      str("content"),
    ],
    rowGroupSize: 4,
  } as Parameters<typeof parquetWriteFile>[0]);
}

test("a Parquet file (3 row groups, messages as lists of structs) gives the same records as the equivalent JSONL", async () => {
  const work = tempDir();
  const pq = join(work, "p.parquet"),
    jl = join(work, "p.jsonl"),
    js = join(work, "p.json");
  writeMessagesParquet(pq);
  writeFileSync(jl, rows.map((r) => JSON.stringify(r)).join("\n"));
  writeFileSync(js, JSON.stringify(rows));
  const { parquetMetadataAsync, asyncBufferFromFile } = await import("hyparquet");
  assert.equal((await parquetMetadataAsync(await asyncBufferFromFile(pq))).row_groups.length, 3);
  const raw: unknown[] = [];
  for await (const r of readRows(pq)) raw.push(r.value);
  assert.deepEqual(raw, rows, "the Parquet rows are the JSONL rows");
  const fromJsonl = await readPromptRecords(jl);
  assert.deepEqual(await readPromptRecords(pq), fromJsonl);
  assert.deepEqual(await readPromptRecords(js), fromJsonl);
  // HF datasets' slice syntax, across row groups (rows 3..8 span the 2nd and 3rd groups of 4).
  assert.deepEqual(await readPromptRecords(`${pq}[3:9]`), fromJsonl.slice(3, 9));
  assert.deepEqual(await readPromptRecords(`${pq}[:2]`), fromJsonl.slice(0, 2));
  assert.deepEqual(fromJsonl[1], { id: "p1", messages: [{ role: "user", content: "Question 1" }] });
  // Through the CLI's path: a canonical JSONL the synthesis reader accepts, the same for both sources.
  const env = { SSO_CACHE: join(work, "cache") };
  const a = readPrompts(await preparePrompts(pq, env)),
    b = readPrompts(await preparePrompts(jl, env));
  assert.equal(a.length, 11);
  assert.deepEqual(a, b);
  assert.equal(a[0].id, "p0");
  assert.equal(await preparePrompts(pq, env), await preparePrompts(pq, env), "one file per source: reruns resume");
});

test("the common dataset shapes and FILE#FIELD", async () => {
  assert.deepEqual(promptOf({ prompt: "UltraFeedback", chosen: [] }), { prompt: "UltraFeedback" });
  assert.deepEqual(promptOf({ instruction: "Translate", input: "bonjour" }), { prompt: "Translate\n\nbonjour" });
  assert.deepEqual(promptOf({ instruction: "Write", input: "" }), { prompt: "Write" });
  assert.deepEqual(promptOf({ question: "2+2?", answer: "4" }), { prompt: "2+2?" });
  assert.deepEqual(promptOf({ question_id: 81, turns: ["first", "second"] }), { id: 81, prompt: "first" });
  assert.deepEqual(promptOf({ text: "x", q: "named" }, "q"), { prompt: "named" });
  assert.match(promptOf({ text: "x" }) as string, /no prompt field/);
  const work = tempDir();
  const f = join(work, "d.jsonl");
  writeFileSync(f, `${JSON.stringify({ q: "a" })}\n${JSON.stringify({ q: "b" })}\n`);
  assert.deepEqual(await readPromptRecords(`${f}#q`), [{ prompt: "a" }, { prompt: "b" }]);
  assert.deepEqual(await readPromptRecords(`${f}[1:]#q`), [{ prompt: "b" }]);
  await assert.rejects(readPromptRecords(f), new RegExp(`^Error: ${f}: line 1: no prompt field`));
  // A canonical JSONL is passed on unchanged.
  const c = join(work, "c.jsonl");
  writeFileSync(c, `${JSON.stringify({ prompt: "a" })}\n`);
  assert.equal(await preparePrompts(c, { SSO_CACHE: join(work, "cache") }), c);
});

test("a malformed Parquet file is one line naming it", async () => {
  const work = tempDir();
  const good = join(work, "g.parquet");
  writeMessagesParquet(good);
  const bytes = readFileSync(good);
  for (const [name, data] of [
    ["junk.parquet", Buffer.from("not parquet at all, just text")],
    ["cut.parquet", bytes.subarray(0, bytes.length - 20)],
    ["mangled.parquet", Buffer.concat([bytes.subarray(0, 4), Buffer.alloc(200, 0x41), bytes.subarray(204)])],
  ] as const) {
    const p = join(work, name);
    writeFileSync(p, data);
    await assert.rejects(readPromptRecords(p), (e: Error) => {
      assert.ok(e.message.startsWith(`${p}: `), e.message);
      assert.ok(!e.message.includes("\n"), e.message);
      return true;
    });
  }
  await assert.rejects(readPromptRecords(join(work, "none.parquet")), /none\.parquet: file not found/);
});

test("--data: a Parquet file becomes the same JSONL rows (sliced too); sso score reads it like the JSONL", async () => {
  const { prepareRecords } = await import("../../src/data/prompts.js");
  const { makeTinyModel, runCli } = await import("../helpers.js");
  const work = tempDir();
  const pq = join(work, "p.parquet"),
    jl = join(work, "p.jsonl");
  writeMessagesParquet(pq);
  writeFileSync(jl, rows.map((r) => JSON.stringify(r)).join("\n"));
  const env = { SSO_CACHE: join(work, "cache") };
  assert.equal(await prepareRecords(jl, env), jl, "JSONL goes on unchanged");
  const conv = await prepareRecords(pq, env);
  assert.deepEqual(
    readFileSync(conv, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l)),
    rows,
  );
  const sliced = await prepareRecords(`${pq}[2:4]`, env);
  assert.deepEqual(
    readFileSync(sliced, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l)),
    rows.slice(2, 4),
  );
  await assert.rejects(prepareRecords(`${pq}#messages`, env), /#FIELD applies to --prompts only/);
  // End to end: sso score on {messages, response} rows from Parquet = from JSONL.
  const model = makeTinyModel(8);
  const scored = rows.slice(0, 5).map((r) => ({ messages: [r.messages[0]], response: `answer ${r.id}` }));
  const sp = join(work, "s.parquet"),
    sj = join(work, "s.jsonl");
  writeFileSync(sj, scored.map((r) => JSON.stringify(r)).join("\n"));
  const str = (name: string) => ({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" });
  parquetWriteFile({
    filename: sp,
    columnData: [
      { name: "messages", data: scored.map((r) => r.messages) },
      { name: "response", data: scored.map((r) => r.response) },
    ],
    schema: [
      { name: "root", num_children: 2 },
      { name: "messages", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
      str("role"),
      str("content"),
      str("response"),
    ],
    rowGroupSize: 2,
  } as Parameters<typeof parquetWriteFile>[0]);
  process.env.SSO_CACHE = join(work, "cache");
  const a = runCli("score", "--model", model, "--data", sp, "--out", join(work, "a.jsonl"));
  const b = runCli("score", "--model", model, "--data", sj, "--out", join(work, "b.jsonl"));
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(readFileSync(join(work, "a.jsonl"), "utf8"), readFileSync(join(work, "b.jsonl"), "utf8"));
  assert.equal(readFileSync(join(work, "a.jsonl"), "utf8").trim().split("\n").length, 5);
});
