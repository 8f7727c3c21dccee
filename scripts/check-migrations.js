#!/usr/bin/env node
// Fails when the Drizzle schema and the committed migrations in drizzle/ have drifted apart:
// drizzle-kit generates into a scratch copy of drizzle/, and any new SQL file there means a
// migration is missing from the repository.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const scratchName = '.drizzle-check';
const scratch = path.join(root, scratchName);
const config = path.join(root, `${scratchName}.config.js`);

fs.rmSync(scratch, { recursive: true, force: true });
fs.cpSync(path.join(root, 'drizzle'), scratch, { recursive: true });
fs.writeFileSync(
  config,
  `module.exports = { dialect: 'sqlite', schema: './src/modules/database/schema.ts', out: './${scratchName}' };\n`,
);
let output = '';
try {
  // drizzle-kit says "No schema changes" when drizzle/ matches; anything else (a new migration,
  // or a rename question it cannot ask without a terminal) means drift.
  const result = spawnSync(
    path.join(root, 'node_modules/.bin/drizzle-kit'),
    ['generate', '--config', config],
    {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  output = `${result.stdout}\n${result.stderr}`;
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.rmSync(config, { force: true });
}
if (!output.includes('No schema changes')) {
  console.error(output.trim());
  console.error(
    'Schema drift: the tables in src/ need a migration that drizzle/ lacks. Run "npm run db:generate" and commit it.',
  );
  process.exit(1);
}
console.log('Migrations match the schema.');
