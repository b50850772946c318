// sketchlake widget loader (docs/EMBEDDING.md). Load it with
//   <script src="https://SKETCHLAKE/embed/loader.js"></script>
// and place widgets as
//   <sketchlake-widget widget="top-talkers" query="sq_…" token="…"></sketchlake-widget>
// Each widget is an iframe of SKETCHLAKE/embed/<widget>. The token goes to the frame in
// the URL fragment, which browsers do not send to servers, and from there in the first
// WebSocket message; it never appears in a request line or a Referer.
(() => {
  "use strict";
  if (customElements.get("sketchlake-widget")) return;
  const script = document.currentScript;
  const base = new URL(script ? script.src : location.href).origin;
  // A frame that has not said it started by then was refused (its origin is not allowed,
  // or the gateway is unreachable).
  const READY_WITHIN_MS = 10000;

  // The token's tenant, read (not verified: the gateway verifies) from its payload.
  function tenantOf(token) {
    const part = String(token).split(".")[1];
    if (!part) return null;
    try {
      const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
      const tenant = JSON.parse(json).tenant;
      return typeof tenant === "string" ? tenant : null;
    } catch {
      return null;
    }
  }

  class SketchlakeWidget extends HTMLElement {
    connectedCallback() {
      const root = this.shadowRoot || this.attachShadow({ mode: "open" });
      root.innerHTML = "";
      const style = document.createElement("style");
      style.textContent =
        ":host{display:block;min-height:60px}" +
        "iframe{border:0;width:100%;height:120px;display:block;color-scheme:dark}" +
        ".problem{font:13px/1.4 system-ui,sans-serif;color:#b00020;background:#fff4f4;" +
        "border:1px solid #e8b4b4;border-radius:4px;padding:8px 10px}";
      root.append(style);
      const widget = this.getAttribute("widget") || "";
      const saved = this.getAttribute("query") || "";
      const token = this.getAttribute("token") || "";
      const tenant = tenantOf(token);
      if (!widget || !saved || !tenant) {
        this.fail(root, "this widget needs widget, query and a valid token attribute");
        return;
      }
      const frame = document.createElement("iframe");
      frame.title = "sketchlake " + widget;
      frame.setAttribute("data-testid", "sketchlake-frame");
      const params = new URLSearchParams({ tenant, origin: location.origin });
      const secret = new URLSearchParams({ token, saved });
      frame.src = `${base}/embed/${encodeURIComponent(widget)}?${params}#${secret}`;
      const timer = setTimeout(() => {
        this.fail(
          root,
          `the widget did not load: ${location.origin} may not be allowed to embed it, ` +
            "or sketchlake is unreachable",
        );
      }, READY_WITHIN_MS);
      this.listener = (event) => {
        if (event.origin !== base || event.source !== frame.contentWindow) return;
        const data = event.data || {};
        if (data.type === "sketchlake:ready") clearTimeout(timer);
        if (data.type === "sketchlake:size" && Number.isFinite(data.height)) {
          frame.style.height = `${Math.min(Math.max(data.height, 40), 4000)}px`;
        }
      };
      this.timer = timer;
      window.addEventListener("message", this.listener);
      root.append(frame);
    }

    disconnectedCallback() {
      clearTimeout(this.timer);
      if (this.listener) window.removeEventListener("message", this.listener);
    }

    fail(root, message) {
      for (const el of root.querySelectorAll("iframe")) el.remove();
      const box = document.createElement("div");
      box.className = "problem";
      box.setAttribute("role", "alert");
      box.setAttribute("data-testid", "sketchlake-problem");
      box.textContent = "sketchlake: " + message;
      root.append(box);
    }
  }

  customElements.define("sketchlake-widget", SketchlakeWidget);
})();
