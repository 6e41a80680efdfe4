/**
 * The `llama-actors` command (bin/llama-actors.mjs loads this, built or through tsx). It exits
 * explicitly once the command is done: native handles of llama.cpp or readline must not keep a
 * finished command alive. Logs and output are written synchronously, so nothing is lost.
 */
import { run } from './cli.js';

process.exit(await run(process.argv.slice(2)));
