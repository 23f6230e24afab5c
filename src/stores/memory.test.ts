import { describeStore } from '../testing/store-suite.js';
import { MemoryStore } from './memory.js';

describeStore('MemoryStore', {
  setup(logger) {
    const store = new MemoryStore({ logger });
    return {
      store,
      corrupt: async (key) => store.putRaw(key, '{not json', Date.now() + 3600_000),
    };
  },
});
