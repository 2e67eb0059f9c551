import semver from 'semver';
import { engines } from '../package.json';

// npm ci brings the Node of `engines` into node_modules/.bin for machines whose own is older; a script that
// bypassed it would run the whole suite on a runtime the project does not support, and pass silently.
test('the tests run on the Node release package.json declares', () => {
  expect({ node: process.versions.node, satisfies: semver.satisfies(process.versions.node, engines.node) }).toEqual({
    node: process.versions.node,
    satisfies: true,
  });
});
