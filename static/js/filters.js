// The list's filters fold behind a "Filters" toggle (a <details> element) on a phone. On a wider
// screen there is room for them beside the list, so they start open. Without JavaScript the
// toggle still works; it just starts closed.
(function () {
  var wide = window.matchMedia("(min-width: 50.01rem)");
  document.querySelectorAll("details.filter-toggle[data-open-wide]").forEach(function (details) {
    if (wide.matches) { details.open = true; }
  });
})();
