import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { IConstruct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { addAppStacks } from '../../lib/app-stacks';
import type { ImageRecognitionStack } from '../../lib/image-recognition-stack';
import type { WebAclStack } from '../../lib/web-acl-stack';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const STACK_NAME = 'ImageRecognition';

/** The context of cdk.json (feature flags), so the tests synthesize what `cdk synth` does. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;

export interface Synthesized {
  app: App;
  stack: ImageRecognitionStack;
  template: Template;
  assembly: CloudAssembly;
  /** The us-east-1 web ACL stack, with waf=true. */
  webAcl?: { stack: WebAclStack; template: Template };
}

/**
 * Builds the app as bin/app.ts does, with extra `-c` style context, and synthesizes it into a temp
 * dir. aws-cdk-lib's built-in CloudFormation schema validation (WASM, 5-20 s) is left to
 * `cdk synth`; the cdk-nag checks run in the tests through validateScope().
 */
export function synth(context: Record<string, string> = {}, repoRoot = REPO_ROOT): Synthesized {
  const app = new App({
    context: { ...CDK_JSON_CONTEXT, ...context },
    builtinCloudFormationValidation: false,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const { main: stack, webAcl } = addAppStacks(app, {
    stackName: STACK_NAME,
    repoRoot,
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  const template = Template.fromStack(stack);
  const assembly = app.synth();
  return {
    app,
    stack,
    template,
    assembly,
    webAcl: webAcl && { stack: webAcl, template: Template.fromStack(webAcl) },
  };
}

/** Resources of one type as [logicalId, properties]. */
export function resourcesOf(template: Template, type: string): [string, Record<string, unknown>][] {
  return Object.entries(template.findResources(type)).map(([id, r]) => [
    id,
    (r as { Properties?: Record<string, unknown> }).Properties ?? {},
  ]);
}

export interface DockerImageAssetSource {
  directory: string;
  dockerFile?: string;
  dockerBuildArgs?: Record<string, string>;
  platform?: string;
}

/** The container image assets of the stack, from its assets manifest, with absolute directories. */
export function dockerImageAssets(assembly: CloudAssembly, stackName = STACK_NAME): DockerImageAssetSource[] {
  const manifest = JSON.parse(
    readFileSync(path.join(assembly.directory, `${stackName}.assets.json`), 'utf8'),
  ) as {
    dockerImages?: Record<string, { source: DockerImageAssetSource }>;
  };
  return Object.values(manifest.dockerImages ?? {}).map(({ source }) => ({
    ...source,
    directory: path.join(assembly.directory, source.directory),
  }));
}

/** Relative paths of every file under dir. */
export function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

export function bytesOf(dir: string): number {
  return listFiles(dir).reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
}

/** The cdk-nag rules acknowledged anywhere under `root`, as [rule, reason] pairs. */
export function nagAcknowledgements(root: IConstruct): [string, string][] {
  return root.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
    .flatMap((m) => Object.entries(m.data as Record<string, string>));
}

/** A bucket's template with all public access blocked and the bucket owner enforced. */
export const NO_PUBLIC_ACCESS = {
  PublicAccessBlockConfiguration: {
    BlockPublicAcls: true,
    BlockPublicPolicy: true,
    IgnorePublicAcls: true,
    RestrictPublicBuckets: true,
  },
  OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
};

/** What a private bucket's template holds: no public access, bucket owner enforced, SSE-S3. */
export const PRIVATE_BUCKET = {
  ...NO_PUBLIC_ACCESS,
  BucketEncryption: {
    ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
  },
};
