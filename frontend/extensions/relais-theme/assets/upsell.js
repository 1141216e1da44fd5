/* Relais upsell block: fetch the products once the block is about to be seen. */
(function () {
  function load(el) {
    fetch(el.getAttribute('data-relais-upsell'), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : ''; })
      .then(function (html) {
        if (html) { el.innerHTML = html; el.classList.add('relais-upsell--ready'); }
      })
      .catch(function () { /* no products: the block stays empty */ });
  }
  function start() {
    var blocks = document.querySelectorAll('[data-relais-upsell]');
    if (!('IntersectionObserver' in window)) { blocks.forEach(load); return; }
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) { io.unobserve(e.target); load(e.target); }
      });
    }, { rootMargin: '300px' });
    blocks.forEach(function (b) { io.observe(b); });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
