// wlu-wxlogin-server/mongodb: the MongoDB store (the `mongodb` driver is an optional peer, loaded
// only through this entry or when the options name a MongoDB URI).
export { createMongoStore, migrateMongo, type MongoStoreOptions } from './store/mongo.js';
