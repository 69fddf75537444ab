import { loadConfig } from '../adapters/config';
import { createService } from '../service/create-service';
import { createLambdaHandler } from './lambda-handler';

// Everything here runs in Lambda's init phase: configuration, the manifest and the default
// models' sessions (downloaded from S3 first when MODEL_S3_URI is set).
const config = loadConfig();
const service = createService(config);
const ready = service.preload(config.preload);

export const handler = createLambdaHandler(service, config, { ready });
