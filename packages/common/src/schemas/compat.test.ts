import { describe, expect, it } from 'vitest';
import { backwardProblem, checkSchemaHistory } from './compat.js';

const v1 = { type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] };

describe('schema compatibility', () => {
  it('accepts a new optional field with a default', () => {
    const v2 = { ...v1, fields: [...v1.fields, { name: 'b', type: ['null', 'string'], default: null }] };
    expect(backwardProblem(v2, v1)).toBeNull();
  });
  it('rejects a new field without a default', () => {
    const v2 = { ...v1, fields: [...v1.fields, { name: 'b', type: 'string' }] };
    expect(backwardProblem(v2, v1)).not.toBeNull();
  });
  it('rejects a changed field type', () => {
    const v2 = { ...v1, fields: [{ name: 'a', type: 'long' }] };
    expect(backwardProblem(v2, v1)).not.toBeNull();
  });
  it('the repo schemas are compatible with their whole git history', () => {
    const { problems } = checkSchemaHistory();
    expect(problems).toEqual([]);
  });
});
