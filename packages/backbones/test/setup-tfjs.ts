// The package imports only @tensorflow/tfjs-core and -layers (peer dependencies). Like an application, the tests bring
// the rest: @tensorflow/tfjs registers the cpu backend and every gradient (tfjs-core alone has neither).
import '@tensorflow/tfjs';
