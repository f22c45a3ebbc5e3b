"""plan.json, the contract with TypeScript: loaded and checked against plan.schema.json (written from the zod
schema TorchPlan in src/sso/torch-plan.ts; never edited by hand) before anything reads it. A missing or unknown
key, a wrong type or value, or another plan version is one line naming the file and the key path. Checks the
subset of JSON Schema that zod's toJSONSchema emits here: type, properties/required/additionalProperties,
items, enum, const, anyOf, minimum/maximum/exclusiveMinimum, minLength. Needs no torch.
"""
import json
import os

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plan.schema.json")


class PlanError(ValueError):
    pass


def _type_ok(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool) or isinstance(v, float) and v.is_integer()
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    raise PlanError(f"{SCHEMA}: unsupported schema type {t!r}")


def problem(v, s, path):
    """The first way v breaks schema s, as "PATH: what", or None."""
    if "anyOf" in s:
        found = [problem(v, alt, path) for alt in s["anyOf"]]
        if all(found):
            # the most specific complaint: the alternative whose type matched
            typed = [f for alt, f in zip(s["anyOf"], found) if "type" in alt and _type_ok(v, alt["type"])]
            return typed[0] if typed else f"{path}: {json.dumps(v)[:40]} matches none of its allowed forms"
        return None
    t = s.get("type")
    if t is not None and not _type_ok(v, t):
        return f"{path}: expected {t}, got {json.dumps(v)[:40]}"
    if "const" in s and v != s["const"]:
        return f"{path}: expected {json.dumps(s['const'])}, got {json.dumps(v)[:40]}"
    if "enum" in s and v not in s["enum"]:
        return f"{path}: {json.dumps(v)[:40]} is not one of {', '.join(map(json.dumps, s['enum']))}"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"] or "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
            return f"{path}: {v} is too small"
        if "maximum" in s and v > s["maximum"]:
            return f"{path}: {v} is too large"
    if isinstance(v, str) and len(v) < s.get("minLength", 0):
        return f"{path}: empty"
    if t == "array" and "items" in s:
        for i, x in enumerate(v):
            p = problem(x, s["items"], f"{path}[{i}]")
            if p:
                return p
    if t == "object":
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in v:
                return f"{path}.{k}: missing key"
        if s.get("additionalProperties") is False:
            for k in v:
                if k not in props:
                    return f"{path}.{k}: unknown key"
        for k, sub in props.items():
            if k in v:
                p = problem(v[k], sub, f"{path}.{k}")
                if p:
                    return p
    return None


def check_plan(plan, source="plan.json"):
    with open(SCHEMA) as f:
        schema = json.load(f)
    if isinstance(plan, dict) and plan.get("version") != schema["properties"]["version"]["const"]:
        v = schema["properties"]["version"]["const"]
        raise PlanError(f"{source}: plan version {plan.get('version')!r}, this sso_torch reads version {v} (mixed installs?)")
    p = problem(plan, schema, "plan")
    if p:
        raise PlanError(f"{source}: {p}")
    return plan


def load_plan(path):
    try:
        with open(path) as f:
            plan = json.load(f)
    except ValueError as e:
        raise PlanError(f"{path}: not JSON ({e})") from None
    return check_plan(plan, path)
