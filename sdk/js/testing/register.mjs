// `node --import <sdk>/testing/register.mjs --test`: a plugin's tests with
// the SDK's test host (see ../testing.js).
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
