"""The objective port (sso_torch/objective.py) against test/fixtures/golden/objective.json, which TypeScript
writes from src/sso/objective.ts (tools/objective-golden.ts): every preset's and variant's loss, parts and
per-record derivatives on fixed batches, to 1e-12 relative. Needs no torch; test/sso/torch-objective.test.ts
runs it whenever a python3 exists. A config field the port does not know is refused, so a field added in
TypeScript fails here until the port has it.
"""
import json
import os
import unittest

from sso_torch.objective import sso_objective

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "golden", "objective.json")


def close(test, got, want, what):
    test.assertLessEqual(abs(got - want), 1e-12 * max(1.0, abs(want)), f"{what}: {got!r} vs {want!r}")


class ObjectiveGolden(unittest.TestCase):
    def test_every_case(self):
        with open(FIXTURE) as f:
            golden = json.load(f)
        self.assertGreaterEqual(len(golden["cases"]), 9)
        for case in golden["cases"]:
            for b, (batch, want) in enumerate(zip(golden["batches"], case["results"])):
                loss, parts, grads = sso_objective(batch, case["config"])
                at = f"{case['name']} batch {b}"
                close(self, loss, want["loss"], f"{at} loss")
                self.assertEqual(sorted(parts), sorted(want["parts"]), f"{at} part names")
                for k, v in want["parts"].items():
                    close(self, parts[k], v, f"{at} {k}")
                self.assertEqual(len(grads), len(want["grads"]))
                for i, (g, w) in enumerate(zip(grads, want["grads"])):
                    self.assertEqual(sorted(g), sorted(w), f"{at} record {i}: the pairs with a derivative")
                    for p, v in w.items():
                        close(self, g[p], v, f"{at} d/d {p} of record {i}")

    def test_unknown_or_missing_field(self):
        with open(FIXTURE) as f:
            golden = json.load(f)
        batch, config = golden["batches"][0], golden["cases"][0]["config"]
        with self.assertRaisesRegex(ValueError, r"^objective: unknown config field newField \(.*\)$"):
            sso_objective(batch, {**config, "newField": 1})
        missing = {k: v for k, v in config.items() if k != "gamma"}
        with self.assertRaisesRegex(ValueError, r"^objective: config field gamma is missing$"):
            sso_objective(batch, missing)


if __name__ == "__main__":
    unittest.main()
