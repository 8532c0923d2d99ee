// Embedded PGlite made durable across power loss. Out of the box PGlite starts Postgres with fsync off
// (`-F` in its start parameters), and its Node filesystem (Emscripten's NODEFS) has no fsync at all, so
// a commit was acknowledged while its WAL record sat in the OS page cache: a process crash was
// survived, a power loss could lose acknowledged tokens.
//  - Postgres runs with fsync on and wal_sync_method = fsync: every commit calls fsync() on the WAL
//    segment before it returns (fdatasync, the default method, is a no-op in PGlite's syscall layer,
//    while fsync() reaches the file's stream).
//  - The NODEFS streams get an fsync that is fs.fsyncSync on the real file descriptor (directories
//    included, for Postgres's fsync of a directory after a rename or create).
// A failing fsync throws (the database stops), as Postgres itself PANICs rather than carry on after one.
import { fsyncSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/** Start parameters: PGlite's own, without `-F` (fsync off), with fsync on and the method that reaches the disk. */
export const DURABLE_START_PARAMS = [
  ...PGlite.defaultStartParams.filter((p) => p !== '-F'),
  '-c',
  'fsync=on',
  '-c',
  'wal_sync_method=fsync',
  '-c',
  'synchronous_commit=on',
];

interface NodeFsStream {
  nfd?: number;
}
interface NodeFsModule {
  NODEFS: { stream_ops: { fsync?: (stream: NodeFsStream) => number } };
}

export class DurableNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]) {
    const result = await super.init(pg, opts);
    const preRun = result.emscriptenOpts.preRun ?? [];
    // Before the data directory is mounted and Postgres starts: every stream opened on it can fsync.
    result.emscriptenOpts.preRun = [
      (mod: unknown) => {
        (mod as NodeFsModule).NODEFS.stream_ops.fsync = (stream) => {
          if (stream.nfd !== undefined) fsyncSync(stream.nfd);
          return 0;
        };
      },
      ...preRun,
    ];
    return result;
  }
}
