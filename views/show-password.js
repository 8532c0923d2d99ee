// Show password: a toggle button after each password field, added by this script only, so the forms
// work the same without JavaScript. Served from Keymaster's own origin (CSP script-src 'self'); the
// page carries no inline script. The button's text comes from the script tag's data attributes,
// which the page writes in its own language.
(function () {
  'use strict';
  var script = document.currentScript;
  var label = (script && script.dataset.label) || 'Show password';
  var fields = document.querySelectorAll('input[type="password"]');
  Array.prototype.forEach.call(fields, function (input) {
    if (!input.id) return;
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'reveal';
    button.textContent = label;
    button.setAttribute('aria-pressed', 'false');
    button.setAttribute('aria-controls', input.id);
    button.addEventListener('click', function () {
      var shown = input.type === 'password';
      input.type = shown ? 'text' : 'password';
      button.setAttribute('aria-pressed', String(shown));
    });
    input.insertAdjacentElement('afterend', button);
    // Submitted as a password field again, so browsers and password managers treat it as one.
    if (input.form) {
      input.form.addEventListener('submit', function () {
        input.type = 'password';
        button.setAttribute('aria-pressed', 'false');
      });
    }
  });
})();
