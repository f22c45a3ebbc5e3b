// The tensors of one decoder layer, tabled once: the layer code's field (src/model/layer.ts `LayerWeights`), the
// Hugging Face tensor name after `model.layers.N.`, llama.cpp's GGUF name after `blk.N.`, and — for the Linear
// modules LoRA can target — PEFT's module name. params.ts (checkpoint names and shapes), lora-math.ts (LoRA's
// modules) and src/export/gguf.ts (GGUF names) derive their tables from this one. Imports nothing.
export const LAYER_TENSORS = [
  { key: "inputNorm", hf: "input_layernorm.weight", gguf: "attn_norm.weight" },
  { key: "wq", hf: "self_attn.q_proj.weight", gguf: "attn_q.weight", lora: "q_proj" },
  { key: "bq", hf: "self_attn.q_proj.bias", gguf: "attn_q.bias" },
  { key: "wk", hf: "self_attn.k_proj.weight", gguf: "attn_k.weight", lora: "k_proj" },
  { key: "bk", hf: "self_attn.k_proj.bias", gguf: "attn_k.bias" },
  { key: "wv", hf: "self_attn.v_proj.weight", gguf: "attn_v.weight", lora: "v_proj" },
  { key: "bv", hf: "self_attn.v_proj.bias", gguf: "attn_v.bias" },
  { key: "wo", hf: "self_attn.o_proj.weight", gguf: "attn_output.weight", lora: "o_proj" },
  { key: "postNorm", hf: "post_attention_layernorm.weight", gguf: "ffn_norm.weight" },
  { key: "wGate", hf: "mlp.gate_proj.weight", gguf: "ffn_gate.weight", lora: "gate_proj" },
  { key: "wUp", hf: "mlp.up_proj.weight", gguf: "ffn_up.weight", lora: "up_proj" },
  { key: "wDown", hf: "mlp.down_proj.weight", gguf: "ffn_down.weight", lora: "down_proj" },
] as const;

/** The tensors outside the layers: Hugging Face name → GGUF name. */
export const GLOBAL_TENSORS = {
  "model.embed_tokens.weight": "token_embd.weight",
  "model.norm.weight": "output_norm.weight",
  "lm_head.weight": "output.weight",
} as const;

/** A row LoRA can target. */
export type LoraRow = Extract<(typeof LAYER_TENSORS)[number], { lora: string }>;
