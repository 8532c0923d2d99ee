// The Console's one script (served from our origin, CSP script-src 'self'): conveniences only, every
// form works without it.
// - <button data-copy="ID">: copies the text of element ID and says so.
// - <input type="color" data-preview="ID">: keeps the preview frame ID in step with the colour (its
//   src gains ?color=…), and the paired text field data-color-text in step both ways.
(function () {
  'use strict';
  document.addEventListener('click', function (ev) {
    var button = ev.target instanceof Element ? ev.target.closest('[data-copy]') : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute('data-copy'));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = 'Copied';
      setTimeout(function () { button.textContent = label; }, 2000);
    });
  });
  var HEX = /^#[0-9a-fA-F]{6}$/;
  document.querySelectorAll('[data-preview]').forEach(function (input) {
    var frame = document.getElementById(input.getAttribute('data-preview'));
    var text = input.getAttribute('data-color-text') ? document.getElementById(input.getAttribute('data-color-text')) : null;
    if (!frame) return;
    var base = frame.getAttribute('src').split('?')[0];
    var timer;
    function show(value) {
      if (!HEX.test(value)) return;
      clearTimeout(timer);
      timer = setTimeout(function () { frame.setAttribute('src', base + '?color=' + encodeURIComponent(value)); }, 150);
    }
    input.addEventListener('input', function () { if (text) text.value = input.value; show(input.value); });
    if (text) text.addEventListener('input', function () { if (HEX.test(text.value)) { input.value = text.value; show(text.value); } });
  });
})();
