import { IsEmail, MaxLength, ValidateNested, validate } from 'class-validator';
import { buildSchema, GraphQLError, locatedError, parse, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { Writable } from 'node:stream';
import { ArgumentValidationError } from 'type-graphql';
import { AppError, createErrorFormatter } from '../src/errors';
import { createLogger } from '../src/logger';

class ContactIn {
  @MaxLength(20) name!: string;
  @IsEmail() email!: string;
}
class MemberIn {
  @MaxLength(5) userId!: string;
}
class BookIn {
  @ValidateNested() contact!: ContactIn;
  @ValidateNested({ each: true }) members!: MemberIn[];
}

const schema = buildSchema(`
  input ContactIn { name: String email: String }
  input MemberIn { userId: String }
  input BookIn { contact: ContactIn members: [MemberIn] }
  type Query { ok: Boolean }
  type Mutation { book(id: ID, input: BookIn): Boolean }
`);

/** The error graphql-js hands `formatError` when the resolver of `book` throws `error`. */
function thrownBy(query: string, error: Error): GraphQLError {
  const field = (parse(query).definitions[0] as OperationDefinitionNode).selectionSet.selections[0] as FieldNode;
  return locatedError(error, [field], ['book']);
}

function formatter() {
  const lines: string[] = [];
  const logger = createLogger(new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
  return { format: createErrorFormatter(logger, schema), lines };
}

const instance = (contact: Partial<ContactIn>, members: string[] = []) =>
  Object.assign(new BookIn(), { contact: Object.assign(new ContactIn(), contact), members: members.map((userId) => Object.assign(new MemberIn(), { userId })) });

describe('error messages as clients see them', () => {
  it('name the argument, nested fields and list items of a validation failure, each with its constraint', async () => {
    const failures = await validate(instance({ name: 'Ann', email: 'not an email' }, ['ok', 'far-too-long']));
    const error = thrownBy('mutation($id: ID, $i: BookIn) { book(id: $id, input: $i) }', new ArgumentValidationError(failures));
    const { format } = formatter();
    expect(format(error.toJSON(), error)).toEqual({
      message: 'input.contact.email: must be an email; input.members[1].userId: must be shorter than or equal to 5 characters',
      locations: [{ line: 1, column: 33 }],
      path: ['book'],
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('list at most ten failures, then say how many more there are', async () => {
    const failures = await validate(instance({ name: 'N'.repeat(5000), email: 'x' }, Array.from({ length: 12 }, () => 'too-long')));
    const error = thrownBy('mutation { book(input: {}) }', new ArgumentValidationError(failures));
    const { message } = formatter().format(error.toJSON(), error);
    expect(message.split('; ')).toHaveLength(11);
    expect(message).toMatch(/^input\.contact\.name: must be shorter than or equal to 20 characters; input\.contact\.email: must be an email; /);
    expect(message).toMatch(/; and 4 more$/);
  });

  it('keep an AppError\'s code and message, and show anything else as an internal error without details, logged', () => {
    const { format, lines } = formatter();
    const refused = thrownBy('mutation { book }', new AppError('SLOT_TAKEN', 'This time was just taken.'));
    expect(format(refused.toJSON(), refused)).toMatchObject({ message: 'This time was just taken.', extensions: { code: 'SLOT_TAKEN' } });
    const bug = thrownBy('mutation { book }', new TypeError("Cannot read properties of undefined (reading 'id')"));
    expect(format(bug.toJSON(), bug)).toEqual({ message: 'Internal server error', locations: [{ line: 1, column: 12 }], path: ['book'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(lines.join('')).toContain("reading 'id'");
  });
});
