import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend, loadNativeAddon } from '/work/main/packages/backend-native/dist/index.js';
registerNativeBackend(); await tf.setBackend('native');
const a = tf.randomNormal([128,32,32,16]), b = tf.randomNormal([128,32,32,16]);
for (let i=0;i<3;i++){ let t=performance.now(); const c = tf.mul(a,b); console.log('tf.mul', (performance.now()-t).toFixed(2)); c.dispose(); }
const addon = loadNativeAddon();
const av = a.dataSync(), bv = b.dataSync();
for (let i=0;i<3;i++){ let t=performance.now(); const out = new Float32Array(av.length); const t1 = performance.now(); addon.binary(2, av, bv, out, av.length, 4096, 4096, 512, 1, 4096, 512, 1); console.log('alloc', (t1-t).toFixed(2), 'native', (performance.now()-t1).toFixed(2)); }
addon.setNumThreads(1);
for (let i=0;i<3;i++){ const out = new Float32Array(av.length); const t1 = performance.now(); addon.binary(2, av, bv, out, av.length, 4096, 4096, 512, 1, 4096, 512, 1); const t2=performance.now(); addon.binary(2, av, bv, out, av.length, 4096, 4096, 512, 1, 4096, 512, 1); console.log('1 thread first', (t2-t1).toFixed(2), 'second', (performance.now()-t2).toFixed(2)); }
addon.setNumThreads(2);
for (let i=0;i<3;i++){ const out = new Float32Array(av.length); const t1 = performance.now(); addon.binary(2, av, bv, out, av.length, 4096, 4096, 512, 1, 4096, 512, 1); const t2=performance.now(); addon.binary(2, av, bv, out, av.length, 4096, 4096, 512, 1, 4096, 512, 1); console.log('2 thread first', (t2-t1).toFixed(2), 'second', (performance.now()-t2).toFixed(2)); }
