import { MinHeap } from './min-heap.util';
import { mulberry32 } from './prng.util';

describe('MinHeap', () => {
  it('should pop items in ascending key order when pushed in random order', () => {
    const rnd = mulberry32(3);
    const heap = new MinHeap<{ due: number }>((x) => x.due);
    const keys = Array.from({ length: 500 }, () => Math.floor(rnd() * 1000));
    for (const due of keys) heap.push({ due });
    const out: number[] = [];
    while (heap.size > 0) out.push(heap.pop()!.due);
    expect(out).toEqual([...keys].sort((a, b) => a - b));
  });

  it('should return undefined when empty', () => {
    const heap = new MinHeap<number>((x) => x);
    expect(heap.peek()).toBeUndefined();
    expect(heap.pop()).toBeUndefined();
  });
});
