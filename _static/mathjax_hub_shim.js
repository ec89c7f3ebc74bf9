// ipywidgets' embedded widget manager (html-manager 1.0) typesets widget labels
// through the MathJax 2 call MathJax.Hub.Queue, which MathJax 3 does not have.
// This maps that call onto MathJax 3's typesetPromise.
(function () {
  if (!window.MathJax || window.MathJax.Hub) {
    return;
  }
  window.MathJax.Hub = {
    Queue: function (job) {
      var element = Array.isArray(job) ? job[2] : undefined;
      if (window.MathJax.typesetPromise) {
        window.MathJax.typesetPromise(element ? [element] : undefined);
      }
    },
  };
})();
