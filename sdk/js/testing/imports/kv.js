// `switchboard:plugin/kv` in tests: the test host's map.
import { host } from '../../testing.js';

export const get = (key) => host.kv.get(key);
export const set = (key, value) => void host.kv.set(key, Uint8Array.from(value));
const remove = (key) => void host.kv.delete(key);
export { remove as delete, remove as delete$ };
