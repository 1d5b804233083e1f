export const ClientErrors = {
  CLIENT_NOT_FOUND: { status: 404, message: 'No such client.' },
  CLIENT_EXISTS: { status: 409, message: 'A client with this id already exists.' },
  INVALID_CLIENT_METADATA: { status: 400, message: 'The client metadata is invalid.' },
} as const;
