import { Arg, Ctx, Field, ID, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { Principal } from '../auth/jwt';
import type { Context } from '../context';
import type { User } from '../entities/user.entity';

@ObjectType('Viewer', { description: 'The caller, as the CRM token names them.', simpleResolvers: true })
export class ViewerType {
  @Field(() => ID, { description: 'The CRM user id (JWT sub).' })
  id!: string;

  @Field(() => String)
  tenantId!: string;

  @Field(() => String, { description: 'user, admin or support.' })
  role!: string;

  @Field(() => String, { description: 'IANA zone used for all-day and floating iCloud events.' })
  timezone!: string;
}

const toViewer = (principal: Principal, user: User): ViewerType => ({
  id: principal.sub,
  tenantId: principal.tenantId,
  role: principal.role,
  timezone: user.timezone,
});

@Resolver()
export class ViewerResolver {
  @Query(() => ViewerType, { description: 'The caller; their user record is created on first sight.' })
  async viewer(@Ctx() { em, principal, services }: Context): Promise<ViewerType> {
    return toViewer(principal, await services.users.ensure(em, principal));
  }

  @Mutation(() => ViewerType, { description: "Sets the caller's time zone (an IANA name such as Europe/Berlin)." })
  async setTimezone(@Arg('timezone', () => String) timezone: string, @Ctx() { em, principal, services }: Context): Promise<ViewerType> {
    return toViewer(principal, await services.users.setTimezone(em, principal, timezone));
  }
}
