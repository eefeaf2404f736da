import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultipleErrors, NetworkError, ProtocolError, TimeoutError, UserError } from '@platformatic/kafka';
import { isTransientProduceError } from './kafka-sink.js';

test("produce errors: the client's own classes decide what the sink retries", () => {
  // Lost connections and timeouts: a later attempt may pass.
  assert.equal(isTransientProduceError(new NetworkError('Connection closed')), true);
  assert.equal(isTransientProduceError(new TimeoutError('Request timed out')), true);
  // A broker's code says itself: NOT_LEADER_OR_FOLLOWER may pass later, MESSAGE_TOO_LARGE never.
  assert.equal(isTransientProduceError(new ProtocolError('NOT_LEADER_OR_FOLLOWER')), true);
  assert.equal(isTransientProduceError(new ProtocolError('MESSAGE_TOO_LARGE')), false);
  // A closed client is not coming back by waiting.
  assert.equal(isTransientProduceError(new NetworkError('Client is closed.', { closed: true, canRetry: false })), false);
  // An aggregate: retried only when every part may pass.
  assert.equal(isTransientProduceError(new MultipleErrors('two', [new NetworkError('a'), new ProtocolError('NOT_LEADER_OR_FOLLOWER')])), true);
  assert.equal(isTransientProduceError(new MultipleErrors('two', [new NetworkError('a'), new ProtocolError('MESSAGE_TOO_LARGE')])), false);
  assert.equal(isTransientProduceError(new UserError('bad option')), false);
  assert.equal(isTransientProduceError(new Error('something else')), false);
});
