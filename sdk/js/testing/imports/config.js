// `switchboard:plugin/config` in tests: what the test host was given.
import { host } from '../../testing.js';

export const get = (name) => host.settings[name];
export const secret = (name) => host.secrets[name];
