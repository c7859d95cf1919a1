// Module resolution for a plugin's tests in Node: `switchboard` is the SDK,
// `switchboard/testing` its test host, and the contract's imports
// (`switchboard:plugin/kv@0.2.0`, …) the test host's fakes.
const sdk = new URL('../', import.meta.url);

export async function resolve(specifier, context, next) {
  if (specifier === 'switchboard') {
    return { url: new URL('switchboard.js', sdk).href, shortCircuit: true };
  }
  if (specifier === 'switchboard/testing') {
    return { url: new URL('testing.js', sdk).href, shortCircuit: true };
  }
  const host = /^switchboard:plugin\/([a-z-]+)(@.*)?$/.exec(specifier);
  if (host) {
    return { url: new URL(`testing/imports/${host[1]}.js`, sdk).href, shortCircuit: true };
  }
  return next(specifier, context);
}
