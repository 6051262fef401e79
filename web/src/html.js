// One `html` tag for every component: htm turns tagged templates into Preact elements,
// so the app runs as written, with no build step.
import { h } from '../vendor/preact.mjs';
import htm from '../vendor/htm.mjs';

export const html = htm.bind(h);
