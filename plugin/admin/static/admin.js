// Relais admin: sends the server-rendered forms to their JSON endpoints with App Bridge's
// ID token, shows the server's errors next to the fields, and refreshes message previews.
// Loaded with `defer`; the pages render completely without it.
(() => {
  "use strict";
  const params = new URLSearchParams(window.location.search);
  const locale = params.get("locale") || document.documentElement.lang || "fr";

  async function idToken() {
    if (window.shopify && typeof window.shopify.idToken === "function") {
      return window.shopify.idToken();
    }
    return null;
  }

  async function call(url, method, body) {
    const headers = { Accept: "application/json" };
    const token = await idToken();
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const separator = url.includes("?") ? "&" : "?";
    const response = await fetch(url + separator + "locale=" + encodeURIComponent(locale), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
    return { status: response.status, data };
  }

  function values(form) {
    const result = {};
    for (const [name, value] of new FormData(form)) result[name] = value;
    return result;
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach((node) => {
      node.hidden = true;
      node.textContent = "";
    });
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  }

  function showErrors(form, errors) {
    let first = null;
    for (const [name, message] of Object.entries(errors || {})) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (slot) {
        slot.textContent = message;
        slot.hidden = false;
      }
      const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
      if (control) {
        control.setAttribute("aria-invalid", "true");
        first = first || control;
      }
    }
    if (first) first.focus();
  }

  function say(container, message, ok) {
    const status = container.querySelector("[data-status]");
    if (status) {
      status.textContent = message || "";
      status.className = "status " + (ok ? "ok" : "bad");
    }
    if (ok && message && window.shopify && window.shopify.toast) window.shopify.toast.show(message);
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const { status, data } = await call(form.dataset.api, "POST", values(form));
      if (status === 200 && data.ok) {
        say(form, data.message, true);
      } else {
        showErrors(form, data.errors);
        say(form, data.message || data.error || String(status), false);
      }
    } catch (error) {
      say(form, String(error), false);
    } finally {
      if (button) button.disabled = false;
    }
  });

  async function refreshChecklist() {
    const source = document.getElementById("checklist-url");
    if (!source) return;
    const { status, data } = await call(JSON.parse(source.textContent), "GET");
    if (status !== 200) return;
    for (const item of data.items) {
      const row = document.querySelector(`[data-check="${CSS.escape(item.name)}"]`);
      if (!row) continue;
      const badge = row.querySelector("[data-badge]");
      badge.textContent = item.status_label;
      badge.className = "badge " + item.status;
      row.querySelector("[data-detail]").textContent = item.detail;
      if (item.status === "done") row.querySelectorAll("button[data-api-post]").forEach((b) => b.remove());
    }
    const progress = document.getElementById("checklist-progress");
    if (progress) progress.textContent = progress.textContent.replace(/\d+(\D+)\d+/, `${data.done}$1${data.total}`);
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-api-post], button[data-api-delete]");
    if (!button) return;
    event.preventDefault();
    const container = button.closest("form, s-section") || document.body;
    const url = button.dataset.apiPost || button.dataset.apiDelete;
    const { status, data } = await call(url, button.dataset.apiPost ? "POST" : "DELETE", {});
    say(container, data.message || data.error, status === 200);
    if (status === 200 && button.hasAttribute("data-refresh-checklist")) await refreshChecklist();
  });

  // Message copy: switching channel loads that channel's text; typing refreshes the preview.
  const timers = new WeakMap();

  async function preview(form) {
    for (const language of ["fr", "en"]) {
      const target = form.querySelector(`[data-preview-for="${language}"]`);
      if (!target) continue;
      const body = values(form);
      body.language = language;
      const { status, data } = await call(form.dataset.preview, "POST", body);
      if (status === 200 && data.ok) {
        target.replaceChildren();
        if (data.subject) {
          const subject = document.createElement("p");
          subject.className = "subject";
          subject.textContent = data.subject;
          target.append(subject);
        }
        if (data.html && /<html[\s>]/i.test(data.html)) {
          // A whole email: shown in a sandboxed frame, its styles kept apart from the page.
          const frame = document.createElement("iframe");
          frame.setAttribute("sandbox", "");
          frame.setAttribute("title", data.subject || "");
          frame.style.cssText = "width:100%;height:420px;border:0;background:#fff";
          frame.srcdoc = data.html;
          target.append(frame);
        } else {
          const text = document.createElement("pre");
          text.style.cssText = "white-space:pre-wrap;font:inherit;margin:0";
          text.textContent = data.text || "";
          target.append(text);
        }
      } else if (data.errors) {
        clearErrors(form);
        showErrors(form, data.errors);
      }
    }
  }

  function schedulePreview(form) {
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(() => preview(form), 300));
  }

  document.addEventListener("input", (event) => {
    const form = event.target.closest("form[data-preview]");
    if (form && (event.target.name || "").match(/^(subject|body)_/)) schedulePreview(form);
  });

  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-copy-channel]")) return;
    const form = event.target.form;
    const source = form.querySelector(`script[data-copy-for="${event.target.value}"]`);
    const copies = JSON.parse(source.textContent);
    for (const language of ["fr", "en"]) {
      form.elements["subject_" + language].value = copies[language].subject || "";
      form.elements["subject_" + language].closest(".field").hidden = event.target.value !== "email";
      form.elements["body_" + language].value = copies[language].body || "";
    }
    schedulePreview(form);
  });

  document.addEventListener("toggle", (event) => {
    const form = event.target.querySelector && event.target.querySelector("form[data-preview]");
    if (form && event.target.open) schedulePreview(form);
  }, true);

  document.querySelectorAll("details[open] form[data-preview]").forEach(schedulePreview);
})();
