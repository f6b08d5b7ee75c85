/** Function URL events (payload format 2.0) as Lambda delivers them behind AWS_IAM auth, for the archive endpoint's tests. */

export const IAM = {
  accessKey: 'ASIAXAMPLE0000000001',
  accountId: '123456789012',
  callerId: 'AROAEXAMPLE000000001:i-0abc',
  cognitoIdentity: null,
  principalOrgId: null,
  userArn: 'arn:aws:sts::123456789012:assumed-role/strongbox-db-host/i-0abc',
  userId: 'AROAEXAMPLE000000001:i-0abc',
};

/** A Function URL event (payload format 2.0) as Lambda delivers it behind AWS_IAM auth. */
export function urlEvent(method: string, rawPath: string, options: { json?: unknown; base64?: boolean; iam?: unknown; query?: string } = {}) {
  const text = options.json !== undefined ? JSON.stringify(options.json) : undefined;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: options.query ?? '',
    headers: { host: 'abc123.lambda-url.eu-west-1.on.aws', 'content-type': 'application/json', 'x-amz-date': '20261124T030000Z' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abc123',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '10.0.1.7', userAgent: 'strongbox-wal' },
      requestId: 'f3b1c2d4-0000-4000-8000-000000000001',
      routeKey: '$default',
      stage: '$default',
      time: '24/Nov/2026:03:00:00 +0000',
      timeEpoch: 1795489200000,
      ...(options.iam === null ? {} : { authorizer: { iam: options.iam ?? IAM } }),
    },
    ...(text !== undefined ? { body: options.base64 ? Buffer.from(text).toString('base64') : text, isBase64Encoded: options.base64 ?? false } : { isBase64Encoded: false }),
  };
}

