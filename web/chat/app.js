// The chat page: signs in over Socket.IO (auth {user} or {token}), joins rooms, shows their
// history, members and typing, sends room and private messages. Every request is emitted with
// an ack that answers {ok: true, ...} or {error: {code, message}}. Plain DOM, no framework;
// user text only ever goes through textContent.
"use strict";

(() => {
  const REQUEST_TIMEOUT_MS = 10_000;
  const SEND_WAIT_MS = 60_000; // how long a message waits for the connection to come back
  const TYPING_SEND_EVERY_MS = 2_000; // at most one `typing` per room in this time
  const TYPING_SHOW_MS = 3_500; // how long someone shows as typing after their last `typing`
  const HISTORY_PAGE = 50;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  /* ---- state ---- */
  let socket = null;
  let me = null; // {id, name}
  let everConnected = false;
  /** room name -> {name, messages[], members Map(id -> user), typing Map(id -> {name, until}),
   *  unread, joined, noOlder} */
  const rooms = new Map();
  /** peer user id -> {id, name, messages[], unread} */
  const privates = new Map();
  let current = null; // {kind: "room" | "private", key}
  const lastTypingSent = new Map(); // room -> ms
  let localSeq = 0;

  /* ---- connection state ---- */
  function setConn(state, detail = "") {
    $("conn").dataset.state = state;
    $("conn-text").textContent = state;
    $("conn-detail").textContent = detail;
    // The client retries by itself, except after the server closed the session or it gave up.
    $("reconnect-btn").hidden = !(state === "disconnected" && socket);
  }

  /* ---- requests with acks ---- */
  class RequestError extends Error {
    constructor(code, message) {
      super(message || code);
      this.code = code;
    }
  }

  /** Emits event with payload and resolves with the ack's {ok: true, ...}, or rejects. */
  function request(event, payload) {
    return new Promise((resolve, reject) => {
      if (!socket) return reject(new RequestError("disconnected", "not signed in"));
      socket.timeout(REQUEST_TIMEOUT_MS).emit(event, payload, (err, res) => {
        if (err && socket && !socket.connected) return reject(new RequestError("disconnected", "the connection was lost"));
        if (err) return reject(new RequestError("timeout", `no answer to ${event}`));
        if (res && res.ok) return resolve(res);
        const e = (res && res.error) || {};
        reject(new RequestError(e.code || "internal", e.message || `${event} failed`));
      });
    });
  }

  /** Resolves once connected and, for a room, joined again; rejects after SEND_WAIT_MS. */
  function ready(roomName) {
    const ok = () => socket && socket.connected && (!roomName || (rooms.get(roomName) || {}).joined);
    const until = Date.now() + SEND_WAIT_MS;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (ok()) return resolve();
        if (!socket) return reject(new RequestError("disconnected", "not signed in"));
        if (roomName && !rooms.has(roomName)) return reject(new RequestError("not_found", "not in that room"));
        if (Date.now() > until) return reject(new RequestError("disconnected", "not connected"));
        setTimeout(check, 100);
      };
      check();
    });
  }

  /**
   * Sends a message under its local id. One cut off by a lost connection, or refused because it
   * reached the server before the room was joined again after a reconnect, goes again once the
   * room is joined: the server stores an id once, so a resend never doubles a message.
   */
  async function deliver(event, payload, roomName) {
    for (let attempt = 1; ; attempt++) {
      await ready(roomName);
      try {
        return await request(event, payload);
      } catch (err) {
        const again = err.code === "disconnected" || (err.code === "not_found" && roomName && !rooms.get(roomName)?.joined);
        if (!again || attempt >= 5) throw err;
      }
    }
  }

  let errorTimer = null;
  function showError(text) {
    const p = $("chat-error");
    p.textContent = text;
    p.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => (p.hidden = true), 6_000);
  }
  const describe = (err) => (err.code && err.code !== err.message ? `${err.code}: ${err.message}` : err.message);

  /* ---- identity ---- */
  /** The user a token names (its sub and name claims), read from the JWT payload. */
  function userOfToken(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const bytes = Uint8Array.from(atob(part), (ch) => ch.charCodeAt(0));
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      if (typeof claims.sub !== "string") return null;
      return { id: claims.sub, name: typeof claims.name === "string" ? claims.name : claims.sub };
    } catch {
      return null;
    }
  }

  /** Guests' ids are "guest:" and their name; token users' ids are their token's sub. */
  const GUEST = "guest:";
  const isGuest = (u) => u.id === GUEST + u.name;
  /** What a user is shown as beside the name: "guest", the id when it differs, or nothing. */
  const idNote = (u) => (isGuest(u) ? "guest" : u.id !== u.name ? u.id : "");

  function showMe() {
    $("me-name").textContent = me ? me.name : "";
    $("me-id").textContent = me && idNote(me) ? `(${idNote(me)})` : "";
    $("whoami").hidden = !me;
  }

  /* ---- sign in and out ---- */
  function signIn(ev) {
    ev.preventDefault();
    const name = $("name").value.trim();
    const token = $("token").value.trim();
    const server = $("server").value.trim() || location.origin;
    const err = $("signin-error");
    err.hidden = true;
    if (!token && !name) {
      err.textContent = "Enter a name or a token.";
      err.hidden = false;
      return;
    }
    if (typeof io !== "function") {
      err.textContent = "socket.io.min.js did not load.";
      err.hidden = false;
      return;
    }
    try {
      localStorage.setItem("chatcluster.name", name);
    } catch {
      /* storage may be unavailable */
    }
    me = token ? userOfToken(token) || { id: "?", name: "?" } : { id: GUEST + name, name };
    connect(server, token ? { token } : { user: name });
  }

  function connect(server, auth) {
    everConnected = false;
    $("signin-btn").disabled = true;
    setConn("connecting");
    socket = io(server, { auth, reconnectionDelayMax: 5_000 });

    socket.on("connect", onConnect);
    socket.on("disconnect", (reason) => {
      // The client reconnects by itself unless the server or this page ended the session.
      if (reason === "io server disconnect" || reason === "io client disconnect") {
        setConn("disconnected", reason === "io server disconnect" ? "closed by the server" : "");
      } else {
        setConn("reconnecting", reason);
      }
      for (const r of rooms.values()) {
        r.wasJoined = r.joined;
        r.joined = false;
      }
      render();
    });
    socket.on("connect_error", (err) => {
      if (err && err.message === "unauthorized") {
        const reason = err.data && err.data.reason ? err.data.reason : "unauthorized";
        signOut();
        const p = $("signin-error");
        p.textContent = `Sign-in refused: ${reason}`;
        p.hidden = false;
        return;
      }
      // Refused at the transport level: the manager retries.
      setConn(everConnected ? "reconnecting" : "connecting", err ? err.message : "");
    });
    socket.io.on("reconnect_attempt", (n) => setConn("reconnecting", `attempt ${n}`));
    socket.io.on("reconnect_failed", () => setConn("disconnected", "gave up reconnecting"));

    socket.on("hello", (payload) => {
      // Optional: a server may say who this connection is.
      if (payload && payload.user && payload.user.id) {
        me = { id: String(payload.user.id), name: String(payload.user.name || payload.user.id) };
        showMe();
        render();
      }
    });
    socket.on("joined", onJoined);
    socket.on("left", onLeft);
    socket.on("message", onMessage);
    socket.on("private", onPrivate);
    socket.on("typing", onTyping);
  }

  function onConnect() {
    const first = !everConnected;
    everConnected = true;
    const transport = socket.io.engine ? socket.io.engine.transport.name : "";
    // socket.recovered: the server kept the session while the connection was down and gave it
    // back whole (same rooms; every missed message was delivered before this event).
    setConn("connected", !first && socket.recovered ? `${transport}, recovered` : transport);
    socket.io.engine?.on("upgrade", (t) => {
      if (socket.connected) setConn("connected", socket.recovered ? `${t.name}, recovered` : t.name);
    });
    $("signin-btn").disabled = false;
    if (first) {
      $("signin-view").hidden = true;
      $("chat-view").hidden = false;
      showMe();
      render();
      $("room-input").focus();
    } else if (socket.recovered) {
      for (const r of rooms.values()) {
        if (r.wasJoined) r.joined = true;
        else joinRoom(r.name, { quiet: true }); // a join the lost connection cut short
      }
      render();
    } else {
      // A new session is in no room: join again, and fetch what was missed from the history.
      for (const name of rooms.keys()) joinRoom(name, { quiet: true });
    }
    updateComposer();
  }

  function signOut() {
    if (socket) {
      socket.removeAllListeners();
      socket.io.removeAllListeners();
      socket.disconnect();
      socket = null;
    }
    me = null;
    rooms.clear();
    privates.clear();
    current = null;
    setConn("disconnected");
    $("signin-btn").disabled = false;
    $("chat-view").hidden = true;
    $("signin-view").hidden = false;
    showMe();
    render();
  }

  /* ---- messages ---- */
  /** Adds m to list unless a message with its id is there; keeps the list in time order. */
  function addMessage(list, m) {
    if (m.id !== undefined && list.some((x) => x.id === m.id)) return false;
    list.push(m);
    if (list.length > 1 && compare(list[list.length - 2], m) > 0) list.sort(compare);
    return true;
  }
  function compare(a, b) {
    return (a.ts || 0) - (b.ts || 0);
  }
  /** Once the server's answer arrives, a pending message takes its id and time, unless the
   *  broadcast of the same message already arrived (then the pending copy goes). */
  function settle(list, pending, res) {
    if (list.some((x) => x !== pending && x.id === res.id)) {
      list.splice(list.indexOf(pending), 1);
    } else {
      pending.id = res.id;
      pending.ts = res.ts;
      pending.pending = false;
      list.sort(compare);
    }
  }

  function roomState(name) {
    let r = rooms.get(name);
    if (!r) {
      r = { name, messages: [], members: new Map(), typing: new Map(), unread: 0, joined: false, noOlder: false };
      rooms.set(name, r);
    }
    return r;
  }

  function privateState(id, name) {
    let p = privates.get(id);
    if (!p) {
      p = { id, name: name || id, messages: [], unread: 0 };
      privates.set(id, p);
    } else if (name) {
      p.name = name;
    }
    return p;
  }

  async function joinRoom(name, { quiet = false } = {}) {
    try {
      const res = await request("join", { room: name });
      const r = roomState(res.room || name);
      r.joined = true;
      r.members = new Map((res.members || []).map((u) => [u.id, u]));
      for (const m of res.history || []) addMessage(r.messages, { ...m, room: r.name });
      if (!r.messages.length) r.noOlder = true;
      if (!quiet) current = { kind: "room", key: r.name };
      render();
    } catch (err) {
      if (!quiet) showError(`Cannot join ${name}: ${describe(err)}`);
    }
  }

  async function leaveRoom(name) {
    try {
      await request("leave", { room: name });
    } catch (err) {
      if (err.code !== "timeout") showError(`Cannot leave ${name}: ${describe(err)}`);
    }
    rooms.delete(name);
    if (current && current.kind === "room" && current.key === name) {
      const next = rooms.keys().next();
      current = next.done ? null : { kind: "room", key: next.value };
    }
    render();
  }

  async function loadOlder() {
    if (!current || current.kind !== "room") return;
    const r = rooms.get(current.key);
    const oldest = r.messages.find((m) => m.id && !m.pending);
    try {
      const res = await request("history", { room: r.name, before: oldest ? oldest.id : undefined, limit: HISTORY_PAGE });
      const box = $("messages-box");
      const fromBottom = box.scrollHeight - box.scrollTop;
      let added = 0;
      for (const m of res.messages || []) if (addMessage(r.messages, { ...m, room: r.name })) added++;
      if ((res.messages || []).length < HISTORY_PAGE || !added) r.noOlder = true;
      render({ keepScroll: true });
      box.scrollTop = box.scrollHeight - fromBottom;
    } catch (err) {
      showError(`Cannot load history: ${describe(err)}`);
    }
  }

  async function send(ev) {
    ev.preventDefault();
    const input = $("composer-input");
    const text = input.value.trim();
    if (!text || !current || !socket) return;
    input.value = "";
    const localId = `local-${Date.now().toString(36)}-${++localSeq}`;
    const pending = { id: localId, from: me, text, ts: Date.now(), pending: true };
    let list, event, payload;
    if (current.kind === "room") {
      const r = rooms.get(current.key);
      list = r.messages;
      lastTypingSent.delete(r.name);
      event = "message";
      payload = { room: r.name, text, id: localId };
      pending.room = r.name;
    } else {
      const p = privates.get(current.key);
      list = p.messages;
      event = "private";
      payload = { to: p.id, text, id: localId };
      pending.to = p.id;
    }
    list.push(pending);
    render();
    try {
      const res = await deliver(event, payload, pending.room);
      settle(list, pending, res);
    } catch (err) {
      pending.pending = false;
      pending.failed = true;
      showError(`Not sent: ${describe(err)}`);
    }
    render();
  }

  function onTypingInput() {
    if (!current || current.kind !== "room" || !socket || !socket.connected) return;
    const room = current.key;
    const now = Date.now();
    if (now - (lastTypingSent.get(room) || 0) < TYPING_SEND_EVERY_MS) return;
    lastTypingSent.set(room, now);
    socket.emit("typing", { room }, () => {}); // an error here is not worth showing
  }

  /* ---- events from the server ---- */
  function onJoined({ room, user } = {}) {
    const r = rooms.get(room);
    if (!r || !user) return;
    const known = r.members.has(user.id);
    r.members.set(user.id, user);
    if (!known) r.messages.push({ system: true, text: `${user.name} joined`, ts: Date.now() });
    render();
  }

  function onLeft({ room, user } = {}) {
    const r = rooms.get(room);
    if (!r || !user) return;
    if (r.members.delete(user.id)) r.messages.push({ system: true, text: `${user.name} left`, ts: Date.now() });
    r.typing.delete(user.id);
    render();
  }

  function onMessage(m = {}) {
    const r = rooms.get(m.room);
    if (!r) return;
    r.typing.delete(m.from && m.from.id);
    const mine = me && m.from && m.from.id === me.id;
    // Our own message may still be pending under a local id: its answer will settle it.
    const pending = mine ? r.messages.find((x) => x.pending && x.text === m.text) : null;
    if (pending) {
      Object.assign(pending, m, { pending: false });
      r.messages.sort(compare);
    } else if (addMessage(r.messages, m) && !isCurrent("room", r.name)) {
      r.unread++;
    }
    render();
  }

  function onPrivate(m = {}) {
    if (!me || !m.from) return;
    const outgoing = m.from.id === me.id;
    const peerId = outgoing ? m.to : m.from.id;
    const p = privateState(peerId, outgoing ? undefined : m.from.name);
    if (addMessage(p.messages, m) && !isCurrent("private", peerId)) p.unread++;
    render();
  }

  function onTyping({ room, user } = {}) {
    const r = rooms.get(room);
    if (!r || !user || (me && user.id === me.id)) return;
    r.typing.set(user.id, { name: user.name, until: Date.now() + TYPING_SHOW_MS });
    renderTyping();
    setTimeout(renderTyping, TYPING_SHOW_MS + 50);
  }

  const isCurrent = (kind, key) => current && current.kind === kind && current.key === key;

  function select(kind, key) {
    current = { kind, key };
    if (kind === "room") rooms.get(key).unread = 0;
    else privates.get(key).unread = 0;
    render();
    $("composer-input").focus();
  }

  function openPrivate(id, name) {
    if (!id || (me && id === me.id)) return;
    privateState(id, name);
    select("private", id);
  }

  /* ---- rendering ---- */
  function render({ keepScroll = false } = {}) {
    renderRooms();
    renderPrivates();
    renderConversation(keepScroll);
    renderMembers();
    renderTyping();
    updateComposer();
  }

  function convItem(label, key, kind, unread, onClose) {
    const li = el("li");
    li.dataset[kind] = key;
    if (isCurrent(kind, key)) li.classList.add("current");
    li.append(el("span", "label", label));
    if (unread) li.append(el("span", "badge", String(unread)));
    if (onClose) {
      const x = el("button", "close", "\u00d7");
      x.type = "button";
      x.title = kind === "room" ? `Leave ${key}` : "Close";
      x.addEventListener("click", (e) => {
        e.stopPropagation();
        onClose();
      });
      li.append(x);
    }
    li.addEventListener("click", () => select(kind, key));
    return li;
  }

  function renderRooms() {
    const ul = $("room-list");
    ul.replaceChildren(
      ...[...rooms.values()].map((r) => convItem(`# ${r.name}`, r.name, "room", r.unread, () => leaveRoom(r.name))),
    );
    $("rooms-empty").hidden = rooms.size > 0;
  }

  function renderPrivates() {
    const ul = $("dm-list");
    ul.replaceChildren(
      ...[...privates.values()].map((p) =>
        convItem(`@ ${p.name}${idNote(p) ? ` (${idNote(p)})` : ""}`, p.id, "private", p.unread, () => {
          privates.delete(p.id);
          if (isCurrent("private", p.id)) current = null;
          render();
        }),
      ),
    );
  }

  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });

  function messageItem(m) {
    if (m.system) return el("li", "system", m.text);
    const mine = me && m.from && m.from.id === me.id;
    const li = el("li", "message" + (mine ? " mine" : "") + (m.pending ? " pending" : "") + (m.failed ? " failed" : ""));
    if (m.id) li.dataset.id = m.id;
    const meta = el("div", "meta");
    const from = el("span", "from", m.from ? m.from.name : "?");
    if (m.from && idNote(m.from)) from.title = idNote(m.from);
    meta.append(from);
    const date = new Date(m.ts || Date.now());
    const time = el("time", "time", m.failed ? "not sent" : m.pending ? "sending\u2026" : timeFmt.format(date));
    time.dateTime = date.toISOString();
    time.title = date.toLocaleString();
    meta.append(time);
    li.append(meta, el("div", "text", m.text));
    return li;
  }

  function renderConversation(keepScroll) {
    const box = $("messages-box");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    let list = [];
    if (!current) {
      $("conv-title").textContent = "No conversation";
      $("conv-sub").textContent = "join a room or open a private conversation";
      $("leave-btn").hidden = true;
      $("older-btn").hidden = true;
    } else if (current.kind === "room") {
      const r = rooms.get(current.key);
      list = r.messages;
      $("conv-title").textContent = `# ${r.name}`;
      $("conv-sub").textContent = r.joined
        ? `${r.members.size} member${r.members.size === 1 ? "" : "s"}`
        : "not joined: joins again once connected";
      $("leave-btn").hidden = false;
      $("older-btn").hidden = r.noOlder || !r.messages.some((m) => m.id && !m.pending);
    } else {
      const p = privates.get(current.key);
      list = p.messages;
      $("conv-title").textContent = `@ ${p.name}`;
      $("conv-sub").textContent = p.name !== p.id ? `private, user id ${p.id}` : "private";
      $("leave-btn").hidden = true;
      $("older-btn").hidden = true;
    }
    const items = [];
    let lastDay = null;
    for (const m of list) {
      const day = dayFmt.format(new Date(m.ts || Date.now()));
      if (day !== lastDay) {
        items.push(el("li", "day", day));
        lastDay = day;
      }
      items.push(messageItem(m));
    }
    $("messages").replaceChildren(...items);
    $("messages-empty").hidden = list.length > 0;
    if (!keepScroll && atBottom) box.scrollTop = box.scrollHeight;
  }

  function renderMembers() {
    const ul = $("member-list");
    const r = current && current.kind === "room" ? rooms.get(current.key) : null;
    const users = r ? [...r.members.values()].sort((a, b) => a.name.localeCompare(b.name)) : [];
    ul.replaceChildren(
      ...users.map((u) => {
        const li = el("li", me && u.id === me.id ? "me" : "");
        li.dataset.user = u.id;
        li.title = me && u.id === me.id ? "" : `Private message to ${u.id}`;
        li.append(el("span", "name", u.name));
        if (idNote(u)) li.append(el("span", "id muted", idNote(u)));
        li.addEventListener("click", () => openPrivate(u.id, u.name));
        return li;
      }),
    );
    $("member-count").textContent = r ? `(${users.length})` : "";
    $("member-list").parentElement.classList.toggle("stale", !!r && !r.joined);
    $("members-empty").hidden = users.length > 0;
  }

  function renderTyping() {
    const line = $("typing");
    const r = current && current.kind === "room" ? rooms.get(current.key) : null;
    const now = Date.now();
    const names = [];
    if (r) {
      for (const [id, t] of r.typing) {
        if (t.until > now) names.push(t.name);
        else r.typing.delete(id);
      }
    }
    line.textContent =
      names.length === 0 ? "" :
      names.length === 1 ? `${names[0]} is typing\u2026` :
      names.length <= 3 ? `${names.join(", ")} are typing\u2026` : "several people are typing\u2026";
  }

  function updateComposer() {
    const connected = !!(socket && socket.connected);
    const ok =
      connected && current && (current.kind === "private" || (rooms.get(current.key) || {}).joined);
    $("composer-input").disabled = !ok;
    $("send-btn").disabled = !ok;
    $("join-btn").disabled = !connected;
    $("dm-btn").disabled = !connected;
  }

  /* ---- wiring ---- */
  function init() {
    $("server").value = location.origin;
    try {
      $("name").value = localStorage.getItem("chatcluster.name") || "";
    } catch {
      /* storage may be unavailable */
    }
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    $("reconnect-btn").addEventListener("click", () => {
      if (!socket) return;
      setConn("connecting");
      socket.connect();
    });
    $("join-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const name = $("room-input").value.trim();
      if (!name) return;
      $("room-input").value = "";
      if (rooms.has(name) && rooms.get(name).joined) select("room", name);
      else joinRoom(name);
    });
    $("dm-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const id = $("dm-input").value.trim();
      if (!id) return;
      $("dm-input").value = "";
      openPrivate(id);
    });
    $("leave-btn").addEventListener("click", () => current && current.kind === "room" && leaveRoom(current.key));
    $("older-btn").addEventListener("click", loadOlder);
    $("composer").addEventListener("submit", send);
    const input = $("composer-input");
    input.addEventListener("input", onTypingInput);
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        $("composer").requestSubmit();
      }
    });
    setConn("disconnected", "not signed in");
    render();
  }

  init();
})();
