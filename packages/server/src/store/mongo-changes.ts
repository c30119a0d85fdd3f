import type { ChangeStreamDocument, Document } from 'mongodb';
import type { Collection, Document as MongoDocument } from 'mongodb';
import type { StoredRecord } from './types.js';

/**
 * Change streams over the MongoDB store's `records` collection (the PC-login notifier's push
 * source, flows/attempt/change-stream.ts). Kept beside the store because it knows the collection's
 * layout (store/mongo.ts MongoStore.records.put): every version of a record is an INSERTED document
 * `{ _id: '<id>@v<n>', rid, version, value, createdAt, expiresAt }`, so an insert event carries the
 * whole new version in `fullDocument` — no 'updateLookup' read is needed.
 *
 * Change streams need a replica set or a sharded cluster (Atlas always is one). A standalone mongod
 * refuses them (code 40573), FerretDB v1 does not implement them (code 238): the notifier then
 * falls back to polling.
 */

/** The part of the driver's ChangeStream (event-emitter mode) the notifier uses. */
export interface ChangeStreamLike {
  /** 'init': the server accepted the stream; 'change': one event (its `_id` is the resume token); 'error'; 'close' */
  on(event: 'init' | 'change' | 'error' | 'close' | 'resumeTokenChanged', listener: (arg: any) => void): unknown;
  close(): Promise<void>;
}

export interface RecordChangeSource {
  /** opens one change stream of inserted record versions (after `resumeAfter` when given) */
  open(resumeAfter?: unknown): Promise<ChangeStreamLike>;
  /** the record version a change event carries; null when it is not an insert of a record under the prefix */
  parse(change: unknown): { rid: string; record: Pick<StoredRecord, 'value' | 'version'> } | null;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The fields of a record's value a change event carries (nothing else of the value leaves the server). */
export function mongoRecordChanges(options: { records: () => Promise<Collection<MongoDocument>>; prefix: string; valueFields: string[] }): RecordChangeSource {
  const pipeline: Document[] = [
    { $match: { operationType: 'insert', 'fullDocument.rid': { $regex: `^${escapeRegex(options.prefix)}` } } },
    // _id (the resume token) must stay as it is; the rest is trimmed to what the notifier needs
    { $project: { operationType: 1, 'fullDocument.rid': 1, 'fullDocument.version': 1, ...Object.fromEntries(options.valueFields.map((f) => [`fullDocument.value.${f}`, 1])) } },
  ];
  return {
    async open(resumeAfter) {
      return (await options.records()).watch(pipeline, resumeAfter === undefined ? {} : { resumeAfter: resumeAfter as Document });
    },
    parse(change) {
      const event = change as ChangeStreamDocument<Document>;
      if (event?.operationType !== 'insert') return null;
      const doc = event.fullDocument;
      if (typeof doc?.rid !== 'string' || !doc.rid.startsWith(options.prefix) || typeof doc.version !== 'number' || typeof doc.value !== 'object' || !doc.value) return null;
      return { rid: doc.rid, record: { value: doc.value as Record<string, unknown>, version: doc.version } };
    },
  };
}
