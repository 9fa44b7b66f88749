#!/usr/bin/env node
// A client of vault.v1.DossierVault in Node.js, written from protos/vault/v1/vault.proto's
// comments and docs/api.md alone (no generated code, no knowledge of the server's code):
// it proves that a portal team in another language can use the contract as documented.
//
// It creates the patient's dossier, streams a document in (header, chunks, finish with
// size and SHA-256), lists it, reads it back whole and by range and compares the bytes,
// and reads the structured error of two refused calls (google.rpc.Status in the
// `grpc-status-details-bin` trailer: ErrorInfo's reason and domain, BadRequest's field).
//
// Environment: VAULT_TARGET (host:port), VAULT_TOKEN (a patient's token), VAULT_INS (that
// patient's INS, with no dossier yet). Exit 0 when every check passed, 1 otherwise, with
// one line per check on stdout. Run by tests/server/test_node_client.py.
'use strict';

const crypto = require('node:crypto');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTOS = path.resolve(__dirname, '..', '..', 'protos');
const CHUNK = 1024 * 1024; // docs/api.md: a chunk may hold up to 4 MiB; boundaries mean nothing

// google.rpc.Status, ErrorInfo and BadRequest as googleapis publishes them
// (google/rpc/status.proto, google/rpc/error_details.proto): only the fields read here.
const rpcTypes = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: { Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } } },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            ErrorInfo: {
              fields: {
                reason: { type: 'string', id: 1 },
                domain: { type: 'string', id: 2 },
                metadata: { keyType: 'string', type: 'string', id: 3 },
              },
            },
            BadRequest: {
              fields: { field_violations: { rule: 'repeated', type: 'FieldViolation', id: 1 } },
              nested: {
                FieldViolation: {
                  fields: { field: { type: 'string', id: 1 }, description: { type: 'string', id: 2 } },
                },
              },
            },
          },
        },
      },
    },
  },
});

function loadStub(target) {
  const definition = protoLoader.loadSync('vault/v1/vault.proto', {
    includeDirs: [PROTOS],
    keepCase: true, // field names as the .proto spells them
    longs: String, // uint64 sizes as decimal strings: no precision lost
    enums: String,
    defaults: true,
    oneofs: true, // a oneof's case is named by the virtual field of its name ("part")
  });
  const { vault } = grpc.loadPackageDefinition(definition);
  return new vault.v1.DossierVault(target, grpc.credentials.createInsecure());
}

function callMetadata(token) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function unary(stub, method, request, metadata) {
  return new Promise((resolve, reject) => {
    stub[method](request, metadata, (error, reply) => (error ? reject(error) : resolve(reply)));
  });
}

// The structured error of a refused call, decoded from its trailer.
function errorDetails(error) {
  const raw = error.metadata && error.metadata.get('grpc-status-details-bin');
  if (!raw || raw.length === 0) {
    throw new Error(`status ${error.code} carries no grpc-status-details-bin`);
  }
  const status = rpcTypes.lookupType('google.rpc.Status').decode(raw[0]);
  const found = { code: status.code, message: status.message };
  for (const any of status.details) {
    const name = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    if (name === 'google.rpc.ErrorInfo') {
      found.errorInfo = rpcTypes.lookupType(name).decode(any.value);
    } else if (name === 'google.rpc.BadRequest') {
      found.badRequest = rpcTypes.lookupType(name).decode(any.value);
    }
  }
  return found;
}

async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    return { error, details: errorDetails(error) };
  }
  throw new Error('the call was expected to fail and succeeded');
}

function putDocument(stub, metadata, header, content) {
  return new Promise((resolve, reject) => {
    let requestId = null;
    const call = stub.PutDocument(metadata, (error, document) =>
      error ? reject(error) : resolve({ document, requestId }),
    );
    // docs/api.md: the request id comes in the initial metadata, before any response.
    call.on('metadata', (initial) => {
      requestId = initial.get('x-request-id')[0] || null;
    });
    call.write({ header: { ...header, declared_size: String(content.length) } });
    for (let at = 0; at < content.length; at += CHUNK) {
      call.write({ chunk: content.subarray(at, at + CHUNK) });
    }
    const sha256 = crypto.createHash('sha256').update(content).digest();
    call.write({ finish: { size: String(content.length), sha256 } });
    call.end();
  });
}

function getDocument(stub, metadata, request) {
  return new Promise((resolve, reject) => {
    let document = null;
    const chunks = [];
    const call = stub.GetDocument(request, metadata);
    call.on('data', (message) => {
      if (message.part === 'document') document = message.document;
      else chunks.push(message.chunk);
    });
    call.on('error', reject);
    call.on('end', () => resolve({ document, content: Buffer.concat(chunks) }));
  });
}

const results = [];
function check(name, condition, detail = '') {
  results.push(condition);
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${name}${detail && !condition ? `: ${detail}` : ''}`);
}

async function main() {
  const { VAULT_TARGET: target, VAULT_TOKEN: token, VAULT_INS: ins } = process.env;
  if (!target || !token || !ins) throw new Error('set VAULT_TARGET, VAULT_TOKEN and VAULT_INS');
  const stub = loadStub(target);
  const md = () => callMetadata(token);

  const dossier = await unary(stub, 'CreateDossier', { ins }, md());
  check('CreateDossier returns an active dossier', dossier.state === 'DOSSIER_STATE_ACTIVE', dossier.state);

  // 2.5 MiB: three chunks, and more than one segment of the object format.
  const content = crypto.randomBytes(2.5 * 1024 * 1024);
  const header = {
    dossier_id: dossier.dossier_id,
    metadata: {
      title: 'Compte rendu de test (client Node.js)',
      category: 'DOCUMENT_CATEGORY_REPORTS',
      media_type: 'text/plain',
      type_code: '11490-0',
    },
  };
  const { document: stored, requestId } = await putDocument(stub, md(), header, content);
  check('PutDocument sends the request id in the initial metadata', Boolean(requestId));
  check('PutDocument stores version 1', stored.version === 1, String(stored.version));
  check('PutDocument stores the size sent', stored.size === String(content.length), stored.size);
  const digest = crypto.createHash('sha256').update(content).digest();
  check('PutDocument stores the SHA-256 sent', Buffer.compare(stored.sha256, digest) === 0);
  check('the format is derived from the media type', stored.metadata.format === 'DOCUMENT_FORMAT_TEXT', stored.metadata.format);

  const page = await unary(stub, 'ListDocuments', { dossier_id: dossier.dossier_id }, md());
  check('ListDocuments lists the document', page.documents.length === 1 && page.documents[0].document_id === stored.document_id);
  check('ListDocuments counts what the caller may see', page.total === '1', String(page.total));
  check('ListDocuments ends on its only page', page.next_page_token === '');

  const whole = await getDocument(stub, md(), { dossier_id: dossier.dossier_id, document_id: stored.document_id });
  check('GetDocument sends the document first', whole.document && whole.document.document_id === stored.document_id);
  check('GetDocument returns the bytes stored', Buffer.compare(whole.content, content) === 0, `${whole.content.length} bytes`);

  const offset = 1024 * 1024 - 10;
  const range = await getDocument(stub, md(), {
    dossier_id: dossier.dossier_id,
    document_id: stored.document_id,
    offset: String(offset),
    length: '100',
  });
  check('GetDocument returns a range across a segment boundary', Buffer.compare(range.content, content.subarray(offset, offset + 100)) === 0);

  const again = await refusal(unary(stub, 'CreateDossier', { ins }, md()));
  check('a second dossier is ALREADY_EXISTS', again.error.code === grpc.status.ALREADY_EXISTS, String(again.error.code));
  check('its ErrorInfo says why, in the vault domain', again.details.errorInfo &&
    again.details.errorInfo.reason === 'ALREADY_EXISTS' && again.details.errorInfo.domain === 'dossier-vault',
    JSON.stringify(again.details.errorInfo));
  check('its google.rpc.Status repeats the code and message', again.details.code === again.error.code &&
    again.details.message === again.error.details, `${again.details.message} / ${again.error.details}`);

  const bad = await refusal(unary(stub, 'ListDocuments', { dossier_id: dossier.dossier_id, page_size: 0 }, md()));
  check('page_size 0 is INVALID_ARGUMENT', bad.error.code === grpc.status.INVALID_ARGUMENT, String(bad.error.code));
  check('its ErrorInfo reason is INVALID_ARGUMENT', bad.details.errorInfo && bad.details.errorInfo.reason === 'INVALID_ARGUMENT',
    JSON.stringify(bad.details.errorInfo));
  const violations = bad.details.badRequest ? bad.details.badRequest.field_violations : [];
  check('its BadRequest has one violation, described by the message', violations.length === 1 &&
    violations[0].description === bad.error.details, JSON.stringify(violations));

  // docs/api.md: an unsigned 32-bit value above 2^31-1 is past the storage's bounds.
  const big = await refusal(unary(stub, 'ListDocuments', { dossier_id: dossier.dossier_id, page_size: 2 ** 31 }, md()));
  check('page_size 2^31 is INVALID_ARGUMENT', big.error.code === grpc.status.INVALID_ARGUMENT, String(big.error.code));
  check('its ErrorInfo reason is FIELD_OUT_OF_BOUNDS', big.details.errorInfo && big.details.errorInfo.reason === 'FIELD_OUT_OF_BOUNDS',
    JSON.stringify(big.details.errorInfo));
  const named = big.details.badRequest ? big.details.badRequest.field_violations : [];
  check('its BadRequest names the field', named.length === 1 && named[0].field === 'page_size', JSON.stringify(named));

  const failed = results.filter((ok) => !ok).length;
  console.log(`${results.length - failed} of ${results.length} checks passed`);
  stub.close();
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`FAIL ${error.stack || error}`);
    process.exit(1);
  },
);
