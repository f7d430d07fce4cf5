/* tailorai tracker: page views, clicks, dwell, scroll depth, form submissions, identify and
 * feedback, sent in batches to /v1/batch. No build step, no dependency.
 *
 *   <script src="https://TAILOR_HOST/tracker.js" data-write-key="tk_pub_..." async></script>
 *   tailor.identify("u42", {plan: "pro"});  tailor.feedback(generationId, {thumbs: "up"});
 *
 * Events wait in a queue kept in localStorage (capped; what is dropped is counted and reported
 * with the next batch), go out every 2 s or 20 events with retries and backoff, and are flushed
 * with navigator.sendBeacon (fetch keepalive as a fallback) when the page is hidden or left.
 * Dwell time counts only while the page is visible. Forms report field names, never values.
 *
 * Consent: tailor.optOut() stops all tracking in this browser (kept in localStorage), drops
 * what was queued and tells the server, which then refuses this browser's and user's events;
 * tailor.optIn() lifts it. A browser that sends Global Privacy Control
 * (navigator.globalPrivacyControl) is never tracked.
 */
(function () {
  "use strict";
  if (window.tailor && window.tailor._loaded) return;

  var script = document.currentScript || document.querySelector("script[data-write-key]");
  var cfg = {
    writeKey: script && script.getAttribute("data-write-key"),
    host: (script && (script.getAttribute("data-host") || new URL(script.src).origin)) || "",
    batchSize: 20,
    flushMs: 2000,
    maxQueue: 1000
  };
  var QUEUE = "tailor:queue", DROPPED = "tailor:dropped", ANON = "tailor:anon", USER = "tailor:user";
  var OPTOUT = "tailor:optout";
  var memory = {};  // when localStorage is unavailable (private mode, blocked)

  function load(key, fallback) {
    try { var v = localStorage.getItem(key); return v === null ? fallback : JSON.parse(v); }
    catch (e) { return key in memory ? memory[key] : fallback; }
  }
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { memory[key] = value; }
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }

  var anonymousId = load(ANON, null) || uuid();
  save(ANON, anonymousId);
  var sessionId = uuid();

  var timezone = null;  // the user's IANA time zone: frequency caps count their days
  try { timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) {}

  function context() {
    return {
      page: { url: location.href, path: location.pathname, referrer: document.referrer,
              title: document.title },
      user_agent: navigator.userAgent,
      screen: { width: screen.width, height: screen.height },
      session_id: sessionId,
      timezone: timezone,
      library: { name: "tailorai-tracker" }
    };
  }

  function tracking() {
    return !load(OPTOUT, false) && navigator.globalPrivacyControl !== true;
  }

  function consent(optedOut) {
    var data = JSON.stringify({ writeKey: cfg.writeKey, anonymousId: anonymousId,
                                userId: load(USER, null), optedOut: optedOut });
    fetch(cfg.host + "/v1/consent", { method: "POST", body: data, keepalive: true,
                                      headers: { "Content-Type": "text/plain" } })
      .catch(function () {});
  }

  function enqueue(type, event, properties, extra) {
    if (!tracking()) return;
    var item = {
      type: type, event: event, properties: properties || {}, context: context(),
      anonymousId: anonymousId, userId: load(USER, null),
      messageId: uuid(), timestamp: new Date().toISOString()
    };
    for (var k in extra || {}) item[k] = extra[k];
    var queue = load(QUEUE, []);
    queue.push(item);
    if (queue.length > cfg.maxQueue) {
      var over = queue.length - cfg.maxQueue;
      queue.splice(0, over);  // the oldest go first
      save(DROPPED, load(DROPPED, 0) + over);
    }
    save(QUEUE, queue);
    if (queue.length >= cfg.batchSize) flush();
  }

  function body(batch) {
    var dropped = load(DROPPED, 0);
    if (dropped) {  // reported once, on the first event sent after the loss
      batch = batch.slice();
      batch[0] = JSON.parse(JSON.stringify(batch[0]));
      batch[0].context.dropped_events = dropped;
    }
    return JSON.stringify({ batch: batch, writeKey: cfg.writeKey, sentAt: new Date().toISOString() });
  }

  function forget(batch) {
    var sent = {};
    batch.forEach(function (e) { sent[e.messageId] = true; });
    save(QUEUE, load(QUEUE, []).filter(function (e) { return !sent[e.messageId]; }));
    save(DROPPED, 0);
  }

  var inFlight = false, failures = 0, timer = null;

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(flush, ms);
  }

  function flush() {
    if (!tracking()) return save(QUEUE, []);
    var batch = load(QUEUE, []).slice(0, 100);
    if (!batch.length || inFlight) return schedule(cfg.flushMs);
    inFlight = true;
    // text/plain keeps this a "simple" request: no CORS preflight.
    fetch(cfg.host + "/v1/batch", { method: "POST", body: body(batch), keepalive: true,
                                    headers: { "Content-Type": "text/plain" } })
      .then(function (res) {
        inFlight = false;
        if (res.ok || (res.status >= 400 && res.status < 500 && res.status !== 429)) {
          forget(batch);  // stored, or refused for good: resending would not help
          failures = 0;
          return schedule(load(QUEUE, []).length ? 0 : cfg.flushMs);
        }
        throw new Error("HTTP " + res.status);
      })
      .catch(function () {
        inFlight = false;
        failures += 1;  // exponential backoff with jitter, up to a minute
        schedule(Math.min(60000, 1000 * Math.pow(2, failures)) * (0.5 + Math.random()));
      });
  }

  function flushOnExit() {
    if (!tracking()) return;
    var batch = load(QUEUE, []).slice(0, 100);
    if (!batch.length) return;
    var data = body(batch), ok = false;
    if (navigator.sendBeacon) {
      ok = navigator.sendBeacon(cfg.host + "/v1/batch", new Blob([data], { type: "text/plain" }));
    }
    if (!ok) {
      try {
        fetch(cfg.host + "/v1/batch", { method: "POST", body: data, keepalive: true,
                                        headers: { "Content-Type": "text/plain" } });
        ok = true;
      } catch (e) { ok = false; }
    }
    if (ok) forget(batch);  // message ids make a resend harmless if it did not arrive
  }

  // Dwell: visible time only. Scroll: the deepest point seen, in percent of the page.
  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var dwellMs = 0, maxScroll = 0, left = false;

  function measureScroll() {
    var doc = document.documentElement;
    var height = Math.max(doc.scrollHeight, document.body ? document.body.scrollHeight : 0);
    var seen = (window.scrollY || doc.scrollTop) + window.innerHeight;
    maxScroll = Math.max(maxScroll, Math.min(100, Math.round((100 * seen) / Math.max(height, 1))));
  }

  // The generated content this page shows (its first), so dwell, bounces and conversions on
  // the page count for it: <meta name="tailor-generation-id"> or [data-tailor-generation-id].
  function pageGeneration() {
    var meta = document.querySelector('meta[name="tailor-generation-id"]');
    if (meta) return meta.getAttribute("content");
    var el = document.querySelector("[data-tailor-generation-id]");
    return el ? el.getAttribute("data-tailor-generation-id") : null;
  }

  function withGeneration(props) {
    var id = pageGeneration();
    if (id && !props.generation_id) props.generation_id = id;
    return props;
  }

  function pageLeft() {
    if (left) return;
    left = true;
    if (visibleSince !== null) { dwellMs += Date.now() - visibleSince; visibleSince = null; }
    enqueue("track", "Page Left", withGeneration({ dwell_ms: dwellMs, scroll_depth: maxScroll,
                                                   path: location.pathname }));
    flushOnExit();
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      if (visibleSince !== null) { dwellMs += Date.now() - visibleSince; visibleSince = null; }
      flushOnExit();
    } else {
      visibleSince = Date.now();
    }
  });
  window.addEventListener("pagehide", pageLeft);
  window.addEventListener("scroll", measureScroll, { passive: true });

  function tailorData(el) {
    var found = {};
    for (var i = 0; i < el.attributes.length; i++) {
      var a = el.attributes[i];
      if (a.name.indexOf("data-tailor-") === 0) found[a.name.slice(12).replace(/-/g, "_")] = a.value;
    }
    return found;
  }

  document.addEventListener("click", function (e) {
    var el = e.target && e.target.closest &&
             e.target.closest("a, button, [data-tailor-event], [data-tailor-generation-id]");
    if (!el) return;
    var props = tailorData(el);
    props.tag = el.tagName.toLowerCase();
    props.text = (el.innerText || el.value || "").trim().slice(0, 100);
    if (el.href) props.href = el.href;
    if (el.id) props.element_id = el.id;
    var name = props.event || (props.generation_id ? "Content Clicked" : "Clicked");
    delete props.event;
    enqueue("track", name, props);
  }, true);

  document.addEventListener("submit", function (e) {
    var form = e.target, fields = [];
    for (var i = 0; i < form.elements.length; i++) {
      var f = form.elements[i];
      if (f.name && fields.indexOf(f.name) < 0 && f.type !== "submit") fields.push(f.name);
    }
    enqueue("track", "Form Submitted", withGeneration({ form_id: form.id || null,
                                                        action: form.action || null,
                                                        fields: fields }));
  }, true);

  // Impressions: generated content counts as shown once half of it has been on screen.
  if (window.IntersectionObserver) {
    var shown = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        shown.unobserve(entry.target);
        var props = tailorData(entry.target);
        delete props.event;
        enqueue("track", "Content Shown", props);
      });
    }, { threshold: 0.5 });
    var watch = function () {
      document.querySelectorAll("[data-tailor-generation-id]").forEach(function (el) {
        shown.observe(el);
      });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
    else watch();
  }

  window.tailor = {
    _loaded: true,
    init: function (options) { for (var k in options) cfg[k] = options[k]; },
    track: function (event, properties) { enqueue("track", event, properties); },
    page: function (name, properties) { enqueue("page", name || null, properties); },
    identify: function (userId, traits) {
      save(USER, userId);
      enqueue("identify", null, {}, { userId: userId, traits: traits || {} });
    },
    feedback: function (generationId, values) {
      var props = { generation_id: generationId };
      for (var k in values || {}) props[k] = values[k];
      enqueue("feedback", "Feedback", props);
    },
    flush: flush,
    anonymousId: function () { return anonymousId; },
    optOut: function () {
      save(OPTOUT, true);
      save(QUEUE, []);  // nothing queued goes out either
      consent(true);
    },
    optIn: function () {
      save(OPTOUT, false);
      consent(false);
      schedule(cfg.flushMs);
    },
    optedOut: function () { return !tracking(); }
  };

  measureScroll();
  enqueue("page", null, {});
  if (tracking()) schedule(cfg.flushMs);
})();
