// Canned replies: "Insert" puts the chosen one's text (already filled in for the case by the server,
// in the option's data-text) into the reply box at the cursor, or replaces the selected text,
// and leaves it there to edit before sending. Nothing is sent. Without JavaScript the "Insert"
// button submits the form and the server appends the text instead.
(function () {
  function ready(start) {
    // The admin loads its scripts in the page's head; the portal with "defer".
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }

  function insert(box, text) {
    var atEnd = box.selectionStart >= box.value.replace(/\s+$/, "").length;
    if (box.dataset.touched && !atEnd) {
      // Where the cursor was left (a textarea keeps it while the picker has the focus), as
      // a paragraph of its own: a canned reply is a block of text, not words in a sentence.
      var before = box.value.slice(0, box.selectionStart);
      var after = box.value.slice(box.selectionEnd);
      var block = (before && !/\n$/.test(before) ? "\n\n" : "") + text
        + (after && !/^\n/.test(after) ? "\n\n" : "");
      box.setRangeText(block, box.selectionStart, box.selectionEnd, "end");
    } else {
      // The box was never used, or the cursor is after the text: after what is written, as
      // its own paragraph (as the server does).
      var written = box.value.replace(/\s+$/, "");
      box.value = written ? written + "\n\n" + text : text;
      box.setSelectionRange(box.value.length, box.value.length);
    }
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
  }

  ready(function () { document.querySelectorAll("select[data-canned-for]").forEach(function (select) {
    var box = document.getElementById(select.dataset.cannedFor);
    if (!box) { return; }
    // Remember that the person has put the cursor somewhere in the box.
    ["focus", "click", "keyup"].forEach(function (name) {
      box.addEventListener(name, function () { box.dataset.touched = "1"; });
    });
    var button = select.parentElement.querySelector("button.canned-insert");
    if (!button) { return; }
    // "Insert", not a change of the select: a keyboard's arrows change it at every step.
    button.addEventListener("click", function (event) {
      var option = select.options[select.selectedIndex];
      if (!option || !option.dataset.text) { return; } // the server says "choose one first"
      event.preventDefault(); // inserted here: nothing is submitted
      insert(box, option.dataset.text);
      select.selectedIndex = 0; // inserted: saving must not insert it again
    });
  }); });
})();
