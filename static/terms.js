// Fills the significant-terms panel of the search page from /api/terms (the panel links to
// a server-rendered version when JavaScript is off). Builds the list with textContent only.
(function () {
  "use strict";
  var panel = document.getElementById("terms");
  if (!panel || panel.dataset.loaded) { return; }
  function narrowed(query, term) {
    var clause = term.indexOf(" ") >= 0 ? "\"" + term + "\"" : term;
    return query ? query + " " + clause : clause;
  }
  fetch(panel.dataset.src, {headers: {"Accept": "application/json"}})
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (data) {
      if (!data) { return; }
      var note = panel.querySelector(".terms-note");
      var list = document.createElement("ul");
      list.className = "term-list";
      data.terms.forEach(function (t) {
        var params = new URLSearchParams(window.location.search);
        params.set("q", narrowed(data.query, t.term));
        params.delete("page");
        params.set("terms", "1");
        var link = document.createElement("a");
        link.href = window.location.pathname + "?" + params.toString();
        link.textContent = t.term;
        link.title = "in " + t.matches + " of " + data.sampled + " matching stories, " +
          t.background + " of " + data.background + " in the index sample (JLH " + t.score + ")";
        var item = document.createElement("li");
        item.appendChild(link);
        list.appendChild(item);
      });
      var text = document.createElement("p");
      text.className = "terms-note";
      text.textContent = data.terms.length ?
        "Unusually frequent in " + (data.sampled < data.matches ? "a sample of " + data.sampled + " of " : "") +
        "the matches; click to narrow the query." : "No term stands out.";
      if (note) { note.remove(); }
      panel.appendChild(list);
      panel.appendChild(text);
      panel.dataset.loaded = "1";
    })
    .catch(function () { /* the link to the server-rendered panel stays */ });
}());
