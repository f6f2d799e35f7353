// live follows a channel of the gateway (docs/websocket.md): every event calls onEvent with its
// CloudEvent; a dropped connection reconnects with `since`, so nothing between is missed, and a
// history_unavailable asks the page to reload what the API keeps.
import { token } from './api.js';

export function follow(gateway, channel, onEvent, onReload) {
  let seq = null, ws = null, closed = false, retry = 500;
  const open = async () => {
    if (closed) return;
    let t;
    try { t = await token(); } catch { return; }
    ws = new WebSocket(gateway, ['phoenix.v1', 'bearer.' + t]);
    ws.onopen = () => {
      retry = 500;
      const sub = { type: 'subscribe', channel };
      if (seq !== null) sub.since = seq;
      ws.send(JSON.stringify(sub));
    };
    ws.onmessage = (m) => {
      const f = JSON.parse(m.data);
      // The first confirmation: the page's own reading of the API may have come before the
      // subscription held, so it reads again — nothing falls between the two.
      if (f.type === 'subscribed' && seq === null) { seq = f.seq || 0; onReload(); }
      if (f.type === 'event') { seq = f.seq; onEvent(f.data); }
      if (f.type === 'error' && f.code === 'history_unavailable') onReload();
    };
    ws.onclose = () => { if (!closed) setTimeout(open, retry = Math.min(retry * 2, 10000)); };
  };
  open();
  return () => { closed = true; if (ws) ws.close(); };
}
