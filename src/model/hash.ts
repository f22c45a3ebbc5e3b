// The identity of a model folder for provenance and resume checks (records, generated files, reward scores):
// a cheap fingerprint of its config and weight files. An adapter's is adapterHash (peft.ts).
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";

const MIB = 1 << 20;

/** The first and last MiB of a file (all of it when smaller than 2 MiB). */
function ends(path: string): Buffer {
  const size = statSync(path).size;
  if (size <= 2 * MIB) return readFileSync(path);
  const buf = Buffer.alloc(2 * MIB),
    fd = openSync(path, "r");
  try {
    readSync(fd, buf, 0, MIB, 0);
    readSync(fd, buf, MIB, MIB, size - MIB);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/**
 * The policy's identity for provenance and resume checks: sha256 over config.json and, for every *.safetensors
 * file in name order, its name, size, first MiB (header and first tensors) and last MiB. Cheap on large models,
 * and any training step changes it in practice; it is a fingerprint, not a proof of identical weights.
 */
export function policyHash(dir: string): string {
  const h = createHash("sha256");
  h.update("config.json\0").update(readFileSync(join(dir, "config.json")));
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith(".safetensors"))
    .sort()) {
    h.update(`\0${name}\0${statSync(join(dir, name)).size}\0`).update(ends(join(dir, name)));
  }
  return h.digest("hex");
}
