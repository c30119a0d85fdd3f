// `npm run migrate`: creates the MongoDB indexes (never done on the login path). Run once per deploy.
import { loadConfig } from '../packages/server/src/env.js';

import { getMongoClient, migrateMongo } from '../packages/server/src/store/mongo.js';

const config = loadConfig(process.env);
if (!config.mongodbUri) {
  console.log('MONGODB_URI is not set: the embedded store needs no migration.');
} else {
  const client = await getMongoClient(config.mongodbUri);
  await migrateMongo(client.db(config.mongodbDb));
  console.log(`indexes ready in ${config.mongodbDb}`);
  await client.close();
}
