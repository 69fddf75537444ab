#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addAppStacks } from '../lib/app-stacks';

const app = new App();
// cdk-nag v3 is a policy-validation plugin: synth fails on unacknowledged AwsSolutions errors.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));

addAppStacks(app, {
  stackName: (app.node.tryGetContext('stackName') as string | undefined) ?? 'ImageRecognition',
  description: 'Image classification (ResNet-50) and object detection (YOLOv4) on Lambda + API Gateway',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
