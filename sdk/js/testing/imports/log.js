// `switchboard:plugin/log` in tests: kept in the test host's `logs`.
import { host } from '../../testing.js';

export const log = (level, message) => void host.logs.push([level, message]);
