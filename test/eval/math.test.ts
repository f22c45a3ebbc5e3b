// Answer extraction of verifiable tasks on a table of tricky cases: GSM8K's "####" and thousands commas, MATH's
// nested \boxed{} with fractions, spaces and units normalised away, multiple-choice letters in their usual phrasings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  extractBoxed,
  extractChoice,
  extractGsm8k,
  gradeAnswer,
  mathEqual,
  normalizeMath,
} from "../../src/eval/math.js";

describe("GSM8K final numbers", () => {
  const cases: [string, string | undefined][] = [
    ["She pays 3 * 4 = 12 dollars.\n#### 12", "12"],
    ["#### 1,234", "1234"],
    ["The total is $1,000.50. #### $1,000.50", "1000.5"],
    ["First 5, then 7, so the answer is 42.", "42"],
    ["The answer is: -7 apples, not 3", "-7"],
    ["He ends with 18 eggs.", "18"],
    ["Between 3, 4 and 5 the last is 5.", "5"],
    ["It drops to −4 degrees", "-4"],
    ["no number here", undefined],
    ["#### 0.50", "0.5"],
  ];
  for (const [text, want] of cases)
    it(`${JSON.stringify(text)} → ${want}`, () => assert.equal(extractGsm8k(text), want));

  it("grades against a GSM8K solution's #### line", () => {
    assert.equal(gradeAnswer("gsm8k", "So she has 1,200 left.", "600 + 600 = 1200\n#### 1200").correct, true);
    assert.equal(gradeAnswer("gsm8k", "The answer is 12.", "#### 13").correct, false);
    assert.deepEqual(gradeAnswer("gsm8k", "I do not know", "#### 13"), {
      extracted: null,
      expected: "13",
      correct: false,
    });
  });
});

describe("MATH boxed answers", () => {
  it("takes the last \\boxed{} with nested braces, \\fbox and \\boxed 5", () => {
    assert.equal(extractBoxed("first \\boxed{1}, finally \\boxed{\\frac{1}{\\sqrt{2}}}."), "\\frac{1}{\\sqrt{2}}");
    assert.equal(extractBoxed("$\\fbox{7}$"), "7");
    assert.equal(extractBoxed("so $\\boxed 5$"), "5");
    assert.equal(extractBoxed("\\boxed{unclosed"), undefined);
  });

  const same: [string, string][] = [
    ["\\dfrac{1}{2}", "\\frac12"],
    ["\\frac{1}{2}", "0.5"],
    ["1/2", "\\tfrac{1}{2}"],
    ["x = 3", "3"],
    ["5\\text{ cm}", "5"],
    ["12 \\mbox{ square inches}", "12"],
    ["10\\text{ m}^2", "10"],
    ["90^\\circ", "90"],
    ["50\\%", "50"],
    ["\\left( 1, 2 \\right)", "(1,2)"],
    ["1{,}000", "1000"],
    ["3.0", "3"],
    [".5", "\\frac{1}{2}"],
    ["2\\sqrt2", "2\\sqrt{2}"],
    ["-\\frac{3}{4}", "-0.75"],
    ["\\$18.", "18"],
  ];
  for (const [a, b] of same)
    it(`${a} ≡ ${b}`, () => assert.ok(mathEqual(a, b), `${normalizeMath(a)} vs ${normalizeMath(b)}`));

  const different: [string, string][] = [
    ["\\frac{1}{2}", "\\frac{1}{3}"],
    ["(1,2)", "(2,1)"],
    ["\\sqrt{2}", "2"],
    ["x^2", "x^3"],
  ];
  for (const [a, b] of different) it(`${a} ≢ ${b}`, () => assert.ok(!mathEqual(a, b)));

  it("grades a response against a reference solution's box", () => {
    const g = gradeAnswer("math", "Thus the area is $\\boxed{\\dfrac{9}{2}\\text{ units}}$.", "... so $\\boxed{4.5}$");
    assert.equal(g.correct, true);
    assert.equal(gradeAnswer("math", "The answer is 7.", "\\boxed{7}").correct, true);
  });
});

describe("multiple-choice letters", () => {
  const cases: [string, string | undefined][] = [
    ["The answer is (B).", "B"],
    ["Answer: C", "C"],
    ["**Answer:** D because ...", "D"],
    ["A", "A"],
    ["(E)", "E"],
    ["B. Paris is the capital.", "B"],
    ["A cat is not a dog; I pick (C)", "C"],
    ["A cat is not a dog", undefined],
    ["I think the answer is b", undefined],
  ];
  for (const [text, want] of cases)
    it(`${JSON.stringify(text)} → ${want}`, () => assert.equal(extractChoice(text), want));

  it("grades against a reference given as a letter or '(B)'", () => {
    assert.equal(gradeAnswer("choice", "The answer is (B)", "(B)").correct, true);
    assert.equal(gradeAnswer("choice", "Answer: A", "B").correct, false);
  });
});
