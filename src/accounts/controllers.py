"""Accounts API: the OAuth2 password flow that hands out bearer tokens."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body

from accounts import services, throttle
from accounts.schemas import TokenView
from core.i18n import gettext


class TokenRequest(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(max_length=150)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    grant_type: str | None = None
    scope: str | None = None


class ErrorBody(msgspec.Struct):
    status_code: int
    detail: str


class AuthApi(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]  # noqa: RUF012

    @post(
        "/token",
        status_code=200,
        summary="Sign in (OAuth2 password flow) and get a bearer token",
        responses={
            401: ResponseSpec(data_container=ErrorBody, description="Wrong username or password."),
            429: ResponseSpec(
                data_container=ErrorBody,
                description="A wrong password while the name or the client address has too many recent "
                "failed attempts; Retry-After says when to try again. A right password is never refused.",
            ),
        },
    )
    async def token(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[TokenRequest, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> TokenView:
        result = await services.throttled_sign_in(
            data.username, data.password, throttle.client_address(request.scope)
        )
        user_id = result.user_id
        if result.lockout is not None:
            raise TooManyRequestsException(
                detail=result.lockout.message(),
                headers={"Retry-After": str(result.lockout.retry_after)},
            )
        if user_id is None:
            raise NotAuthorizedException(
                detail=gettext("Wrong username or password."),
                headers={"WWW-Authenticate": "Bearer"},
            )
        token, ttl = await services.issue_token(user_id)
        return TokenView(access_token=token, token_type="bearer", expires_in=ttl)
