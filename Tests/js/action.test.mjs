import { test } from "node:test";
import assert from "node:assert/strict";
import { actionStatus, toggleAction } from "../../Public/action.js";

// The same cases as ActionItemTests in Tests/HourglassCoreTests (Swift), so both sides agree.
test("markers make open and done action items", () => {
  assert.equal(actionStatus("[todo] @ann update the ADR"), "open");
  assert.equal(actionStatus("  ACTION: file a ticket"), "open");
  assert.equal(actionStatus("[Action] (Bo) check"), "open");
  assert.equal(actionStatus("[done] shipped"), "done");
  assert.equal(actionStatus("todo later"), null);
  assert.equal(actionStatus("[idea] use blogs"), null);
});

test("toggling cycles plain → todo → done → plain", () => {
  assert.equal(toggleAction("write it up"), "[todo] write it up");
  assert.equal(toggleAction("[todo] write it up"), "[done] write it up");
  assert.equal(toggleAction("ACTION: write it up"), "[done] write it up");
  assert.equal(toggleAction("[done] write it up"), "write it up");
  assert.equal(toggleAction(""), "[todo] ");
});
