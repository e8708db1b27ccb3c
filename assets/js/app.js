// Small behaviours shared by every page, wired up with data- attributes instead of inline handlers
// (the Content-Security-Policy allows no inline script, see src/kepu/security.py):
//   <button type="button" data-action="print">            prints the page
//   <select data-autosubmit>                              submits its form when the choice changes
(() => {
  "use strict";
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest('[data-action="print"]') : null;
    if (!target) return;
    event.preventDefault();
    window.print();
  });
  document.addEventListener("change", (event) => {
    const field = event.target instanceof Element ? event.target.closest("[data-autosubmit]") : null;
    if (!field || !field.form) return;
    if (typeof field.form.requestSubmit === "function") field.form.requestSubmit();
    else field.form.submit();
  });
})();
