// The tenant's live event stream: one WebSocket to /v1/tenants/{t}/live
// (the session cookie authenticates it), reconnected with backoff, fanned
// out to whoever listens.

const listeners = new Set();

/** Listen to `{kind: 'event', seq, event}` and `{kind: 'open' | 'closed'}`. */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(message) {
  for (const listener of [...listeners]) {
    try {
      listener(message);
    } catch (error) {
      console.error(error);
    }
  }
}

let current = null;

/** Connect to a tenant's stream (closing any other); returns a stop function. */
export function connectLive(tenant) {
  if (current) current.stop();
  let socket = null;
  let stopped = false;
  let delay = 1000;
  let timer = null;

  const open = () => {
    if (stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    try {
      socket = new WebSocket(`${scheme}//${location.host}/v1/tenants/${encodeURIComponent(tenant)}/live`);
    } catch {
      retry();
      return;
    }
    socket.onopen = () => {
      delay = 1000;
      emit({ kind: 'open' });
    };
    socket.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame && frame.event) emit({ kind: 'event', seq: frame.seq, event: frame.event });
    };
    socket.onclose = () => {
      socket = null;
      emit({ kind: 'closed' });
      retry();
    };
    socket.onerror = () => {
      // onclose follows and retries.
    };
  };

  const retry = () => {
    if (stopped || timer) return;
    const wait = delay + Math.floor(Math.random() * 250);
    delay = Math.min(delay * 2, 30000);
    timer = setTimeout(() => {
      timer = null;
      open();
    }, wait);
  };

  const handle = {
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (socket) {
        socket.onclose = null;
        socket.close();
      }
      socket = null;
      if (current === handle) current = null;
    },
    isOpen: () => !!socket && socket.readyState === 1,
  };
  current = handle;
  open();
  return handle;
}

export function liveIsOpen() {
  return !!current && current.isOpen();
}

// A short beep for a new handoff, with the Web Audio API: only once the
// person has touched the page (browsers block sound before that), and
// never an error if there is no audio.
let audio = null;
let armed = false;

function arm() {
  armed = true;
  try {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) audio = new Context();
    if (audio && audio.state === 'suspended') audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}

if (typeof window !== 'undefined') {
  window.addEventListener('pointerdown', arm, { passive: true });
  window.addEventListener('keydown', arm);
}

export function beep() {
  if (!armed || !audio) return;
  try {
    const now = audio.currentTime;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = 'sine';
    oscillator.frequency.setValueAtTime(880, now);
    oscillator.frequency.setValueAtTime(1175, now + 0.09);
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.15, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.22);
    oscillator.connect(gain);
    gain.connect(audio.destination);
    oscillator.start(now);
    oscillator.stop(now + 0.25);
  } catch {
    // No sound, no harm.
  }
}
